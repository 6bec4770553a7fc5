import { describe, expect, it } from "vitest";
import { DomainError } from "../errors.js";
import { decodeCursor, toPage } from "./pagination.js";

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `00000000-0000-7000-8000-${String(n - i).padStart(12, "0")}` }));

describe("keyset cursors", () => {
  it("a full page plus one row yields a cursor pointing after the page's last row", () => {
    const page = toPage(rows(4), 3, { enabled: true });
    expect(page.items).toHaveLength(3);
    expect(decodeCursor(page.nextCursor!, { enabled: true })).toBe(page.items[2]!.id);
  });

  it("the last page has no cursor", () => {
    expect(toPage(rows(3), 3, {}).nextCursor).toBeNull();
  });

  it("refuses a cursor replayed with other filters", () => {
    const { nextCursor } = toPage(rows(2), 1, { server: "ghcr.io" });
    expect(() => decodeCursor(nextCursor!, { server: "docker.io" })).toThrow(DomainError);
    expect(decodeCursor(nextCursor!, { server: "ghcr.io", enabled: undefined })).toBeDefined();
  });

  it.each(["", "!!!", Buffer.from("[]").toString("base64url"), Buffer.from('{"v":1,"before":"x","f":""}').toString("base64url")])(
    "refuses a cursor it did not issue: %j",
    (cursor) => {
      expect(() => decodeCursor(cursor, {})).toThrow(expect.objectContaining({ code: "invalid_cursor" }));
    },
  );
});
