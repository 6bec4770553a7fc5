import { createHash } from "node:crypto";
import { DomainError } from "../errors.js";

/**
 * Opaque keyset cursors: `base64url(JSON {v, before, f})` where `before` is the last id of the
 * page and `f` fingerprints the filters it was issued for. A cursor replayed with other filters
 * would silently skip rows, so it is refused instead.
 */
type Filters = Readonly<Record<string, string | boolean | undefined>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodeCursor(cursor: string | undefined, filters: Filters): string | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    // Not JSON: `parsed` stays undefined, which the checks below refuse.
  }
  const { v, before, f } = (parsed ?? {}) as { v?: unknown; before?: unknown; f?: unknown };
  if (v !== 1 || typeof before !== "string" || !UUID.test(before)) throw invalidCursor();
  if (f !== fingerprint(filters)) {
    throw new DomainError("invalid_cursor", "This cursor was issued for other filters; start again without it.");
  }
  return before;
}

/** Rows were fetched with `limit + 1`: the extra row only says whether a next page exists. */
export function toPage<T extends { id: string }>(
  rows: T[],
  limit: number,
  filters: Filters,
): { items: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  const last = items[items.length - 1]!;
  const cursor = Buffer.from(JSON.stringify({ v: 1, before: last.id, f: fingerprint(filters) })).toString("base64url");
  return { items, nextCursor: cursor };
}

function fingerprint(filters: Filters): string {
  const entries = Object.keys(filters)
    .sort()
    .filter((key) => filters[key] !== undefined)
    .map((key) => [key, filters[key]]);
  return createHash("sha256").update(JSON.stringify(entries)).digest("base64url").slice(0, 12);
}

function invalidCursor(): DomainError {
  return new DomainError("invalid_cursor", "The cursor is not one this server issued.", {
    fieldErrors: [
      { path: "/query/cursor", message: "must be a next_cursor returned by this list" },
    ],
  });
}
