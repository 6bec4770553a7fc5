/**
 * Turns a driver error into the few kinds the services act on (409, 422, 503, 500).
 *
 * It reads codes and constraint names only. drizzle wraps driver errors in a
 * `DrizzleQueryError` whose `.message` lists every bound parameter (ciphertexts included):
 * never log, return or copy an error's message; log the `sqlstate` instead.
 */

export type DatabaseErrorKind =
  | { kind: "unique_violation"; constraint?: string }
  | { kind: "foreign_key_violation"; constraint?: string }
  | { kind: "unavailable" }
  | { kind: "other"; sqlstate?: string };

/** Socket-level and postgres.js connection codes: the database could not be reached. */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/**
 * SQLSTATEs meaning "try again later": 57P01 admin_shutdown, 57P02 crash_shutdown,
 * 57P03 cannot_connect_now (starting up), 53300 too_many_connections. Class 08 (connection
 * exceptions) is matched by prefix.
 */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** How deep to follow `cause`: drizzle wraps once; a little slack for our own wrappers. */
const MAX_CAUSE_DEPTH = 4;

/**
 * @example
 * try { await repo.insert(row) } catch (err) {
 *   const e = classifyDatabaseError(err);
 *   if (e.kind === "unique_violation" && e.constraint === REGISTRY_NAME_UNIQUE) throw conflict();
 *   throw err;
 * }
 */
export function classifyDatabaseError(err: unknown): DatabaseErrorKind {
  const found = findCoded(err);
  if (!found) return { kind: "other" };
  const { code, source } = found;

  if (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
    return { kind: "unavailable" };
  }
  if (code === "23505") return withConstraint("unique_violation", source);
  if (code === "23503") return withConstraint("foreign_key_violation", source);
  return SQLSTATE.test(code) ? { kind: "other", sqlstate: code } : { kind: "other" };
}

/** The first error in the `err` → `cause` chain (or an AggregateError's errors) with a code. */
function findCoded(err: unknown, depth = 0): { code: string; source: object } | undefined {
  if (typeof err !== "object" || err === null || depth > MAX_CAUSE_DEPTH) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") return { code, source: err };
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const found = findCoded(e, depth + 1);
      if (found) return found;
    }
  }
  return findCoded((err as { cause?: unknown }).cause, depth + 1);
}

function withConstraint(
  kind: "unique_violation" | "foreign_key_violation",
  source: object,
): DatabaseErrorKind {
  // postgres.js names it `constraint_name`; PGlite (pg-protocol) names it `constraint`.
  const { constraint_name, constraint } = source as { constraint_name?: unknown; constraint?: unknown };
  const name = typeof constraint_name === "string" ? constraint_name : constraint;
  return typeof name === "string" && name !== "" ? { kind, constraint: name } : { kind };
}
