import { fillPlaceholders } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { registries, sandboxImages } from "../schema.js";
import { boundPlaceholder } from "./bound-placeholder.js";

/** The SQL text and parameters drizzle sends for a fragment (no database needed). */
const dialect = new PgDialect();
const queryOf = (fragment: ReturnType<typeof boundPlaceholder>) => dialect.sqlToQuery(fragment);

describe("boundPlaceholder", () => {
  it("is a bare parameter without a cast, and a parameter cast to the named type with one", () => {
    expect(queryOf(boundPlaceholder("name", registries.name)).sql).toBe("$1");
    expect(queryOf(boundPlaceholder("id", sandboxImages.id, "uuid")).sql).toBe("$1::uuid");
    expect(queryOf(boundPlaceholder("memoryMb", sandboxImages.memoryMb, "int4")).sql).toBe("$1::int4");
  });

  it("binds the value named, null as null and anything else through the column's encoder", () => {
    const { params } = queryOf(boundPlaceholder("lastUsedAt", registries.lastUsedAt, "timestamptz"));
    const at = new Date("2025-01-02T03:04:05.678Z");

    expect(fillPlaceholders(params, { lastUsedAt: null })).toStrictEqual([null]);
    expect(fillPlaceholders(params, { lastUsedAt: at })).toStrictEqual([registries.lastUsedAt.mapToDriverValue(at)]);
    expect(fillPlaceholders(queryOf(boundPlaceholder("warnings", registries.warnings)).params, { warnings: [] })).toStrictEqual(["[]"]);
    expect(() => fillPlaceholders(params, { other: at })).toThrow('No value for placeholder "lastUsedAt" was provided');
  });
});
