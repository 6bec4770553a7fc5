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

/** A cursor with these fields, encoded as the server encodes its own. */
const cursorOf = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify(fields)).toString("base64url");
/** The fields of a cursor this server issued, to vary one at a time. */
const fieldsOf = (cursor: string) => JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Record<string, unknown>;

const NOT_ISSUED = {
  code: "invalid_cursor",
  detail: "The cursor is not one this server issued.",
  fieldErrors: [{ path: "/query/cursor", message: "must be a next_cursor returned by this list" }],
};

describe("keyset cursors: their text", () => {
  // Clients keep cursors across a restart or a deploy: the same page and filters must give the
  // same text, whatever order the filters come in and whichever of them are left out.
  const ISSUED = "eyJ2IjoxLCJiZWZvcmUiOiIwMDAwMDAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDIiLCJmIjoidkhhRHpKWFJGdHVhIn0";

  it("is the same text for the same page and filters, in whatever order the filters come", () => {
    expect(toPage(rows(2), 1, { server: "ghcr.io", enabled: true }).nextCursor).toBe(ISSUED);
    expect(toPage(rows(2), 1, { enabled: true, server: "ghcr.io" }).nextCursor).toBe(ISSUED);
    expect(toPage(rows(2), 1, { registry_id: undefined, server: "ghcr.io", enabled: true }).nextCursor).toBe(ISSUED);
  });

  it("names the page's last row and a 12-character fingerprint of the filters", () => {
    expect(fieldsOf(ISSUED)).toEqual({ v: 1, before: "00000000-0000-7000-8000-000000000002", f: "vHaDzJXRFtua" });
    expect(decodeCursor(ISSUED, { enabled: true, server: "ghcr.io" })).toBe("00000000-0000-7000-8000-000000000002");
  });
});

describe("keyset cursors: refusals", () => {
  const issued = fieldsOf(toPage(rows(2), 1, {}).nextCursor!);

  it.each<[string, Record<string, unknown>]>([
    ["another version", { ...issued, v: 2 }],
    ["no version", { before: issued.before, f: issued.f }],
    ["a row id that is not a string", { ...issued, before: 2 }],
    ["a row id in an array", { ...issued, before: [issued.before] }],
    ["a row id that is not a UUID", { ...issued, before: "x" }],
    ["an upper-case UUID", { ...issued, before: "0000000A-0000-7000-8000-00000000000B" }],
  ])("refuses a cursor with %s as not issued here, on the cursor parameter", (_label, fields) => {
    expect(() => decodeCursor(cursorOf(fields), {})).toThrow(expect.objectContaining(NOT_ISSUED));
  });

  it.each(["not base64 JSON", "null"])("refuses %j as not issued here", (text) => {
    expect(() => decodeCursor(Buffer.from(text).toString("base64url"), {})).toThrow(expect.objectContaining(NOT_ISSUED));
  });

  it("refuses a cursor replayed with other filters, telling the client to start again", () => {
    const { nextCursor } = toPage(rows(2), 1, { server: "ghcr.io" });

    expect(() => decodeCursor(nextCursor!, { server: "docker.io" })).toThrow(
      expect.objectContaining({
        code: "invalid_cursor",
        detail: "This cursor was issued for other filters; start again without it.",
        fieldErrors: undefined,
      }),
    );
  });
});
