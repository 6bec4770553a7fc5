import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { classifyDatabaseError, safeErrorSummary } from "./errors.js";

/** What postgres.js throws for a server error. */
const postgresJsError = (code: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error("duplicate key value violates unique constraint"), { code, ...extra });

/** drizzle's wrapper: its message lists the bound parameters. */
const wrapped = (cause: Error) =>
  new DrizzleQueryError("insert into t values ($1)", ["v1:k1:SECRET-CIPHERTEXT"], cause);

describe("classifyDatabaseError", () => {
  it.each([
    ["postgres.js", postgresJsError("23505", { constraint_name: "registries_workspace_name_live_key" })],
    ["PGlite", postgresJsError("23505", { constraint: "registries_workspace_name_live_key" })],
  ])("reads a unique violation and its constraint from %s, wrapped by drizzle", (_, cause) => {
    expect(classifyDatabaseError(wrapped(cause))).toEqual({
      kind: "unique_violation",
      constraint: "registries_workspace_name_live_key",
    });
  });

  it("reads a foreign-key violation and its constraint", () => {
    const err = wrapped(postgresJsError("23503", { constraint_name: "sandbox_images_registry_fkey" }));
    expect(classifyDatabaseError(err)).toEqual({
      kind: "foreign_key_violation",
      constraint: "sandbox_images_registry_fkey",
    });
  });

  it("leaves the constraint out when the driver did not name one", () => {
    expect(classifyDatabaseError(postgresJsError("23505"))).toEqual({ kind: "unique_violation" });
  });

  it.each([
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "CONNECT_TIMEOUT",
    "CONNECTION_CLOSED",
    "CONNECTION_ENDED",
    "CONNECTION_DESTROYED",
    "08006",
    "08001",
    "08P01",
    "57P01",
    "57P02",
    "57P03",
    "53300",
  ])("treats %s as unavailable, bare or wrapped", (code) => {
    expect(classifyDatabaseError(postgresJsError(code))).toEqual({ kind: "unavailable" });
    expect(classifyDatabaseError(wrapped(postgresJsError(code)))).toEqual({ kind: "unavailable" });
  });

  it("finds the code inside an AggregateError (a refused dual-stack connect)", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED ::1:5432"), { code: "ECONNREFUSED" });
    expect(classifyDatabaseError(new AggregateError([refused]))).toEqual({ kind: "unavailable" });
  });

  it("passes other SQLSTATEs through for logging", () => {
    expect(classifyDatabaseError(wrapped(postgresJsError("22P02")))).toEqual({
      kind: "other",
      sqlstate: "22P02",
    });
  });

  it.each([
    ["a plain error", new Error("boom")],
    ["a non-SQLSTATE code", Object.assign(new Error("x"), { code: "ERR_SOMETHING" })],
    ["a string", "boom"],
    ["null", null],
    ["undefined", undefined],
    ["a cause cycle", (() => { const e: { cause?: unknown } = {}; e.cause = e; return e; })()],
  ])("answers other without a sqlstate for %s", (_, err) => {
    expect(classifyDatabaseError(err)).toEqual({ kind: "other" });
  });

  it("never carries the message or the bound parameters", () => {
    const err = wrapped(postgresJsError("23505", { constraint_name: "c" }));
    expect(JSON.stringify(classifyDatabaseError(err))).not.toContain("SECRET");
  });

  it("reads a full disk from PostgreSQL (53100) or the OS (ENOSPC, EDQUOT)", () => {
    expect(classifyDatabaseError(wrapped(postgresJsError("53100")))).toEqual({ kind: "disk_full", sqlstate: "53100" });
    expect(classifyDatabaseError(Object.assign(new Error("no space"), { code: "ENOSPC" }))).toEqual({ kind: "disk_full" });
    expect(classifyDatabaseError(Object.assign(new Error("quota"), { code: "EDQUOT" }))).toEqual({ kind: "disk_full" });
  });

  it.each(["53000", "53200", "53400"])("reads %s (class 53, insufficient resources) as such, never as other", (code) => {
    expect(classifyDatabaseError(wrapped(postgresJsError(code)))).toEqual({ kind: "insufficient_resources", sqlstate: code });
  });
});

describe("safeErrorSummary", () => {
  it("keeps a database error's SQLSTATE and drops its message and parameters", () => {
    const summary = safeErrorSummary(wrapped(postgresJsError("53100")));
    expect(summary).toEqual({ name: "DrizzleQueryError", sqlstate: "53100" });
    expect(JSON.stringify(summary)).not.toContain("SECRET");
  });

  it("drops the message of a query error without a code", () => {
    const err = new DrizzleQueryError("insert into t values ($1)", ["v1:k1:SECRET-CIPHERTEXT"], new Error("SECRET"));
    expect(safeErrorSummary(err)).toEqual({ name: "DrizzleQueryError" });
  });

  it("keeps an errno code instead of a message that names a path", () => {
    expect(safeErrorSummary(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }))).toEqual({
      name: "Error",
      code: "ENOSPC",
    });
  });

  it("keeps the message of our own errors", () => {
    expect(safeErrorSummary(new TypeError("invariant broken"))).toEqual({ name: "TypeError", message: "invariant broken" });
  });
});
