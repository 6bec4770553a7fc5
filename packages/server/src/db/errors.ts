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
  /** The database has no room left to write (SQLSTATE 53100, or ENOSPC/EDQUOT from the OS). */
  | { kind: "disk_full"; sqlstate?: string }
  /** Out of memory or another resource limit (the rest of SQLSTATE class 53). */
  | { kind: "insufficient_resources"; sqlstate: string }
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

/**
 * Class 53, insufficient resources: 53000 insufficient_resources, 53100 disk_full, 53200
 * out_of_memory, 53400 configuration_limit_exceeded (53300 is "unavailable" above). Nothing the
 * client sent is wrong and the statement did not take effect, so these are "retry later", never
 * a 500.
 */
const DISK_FULL_SQLSTATE = "53100";
const INSUFFICIENT_RESOURCES = /^53[0-9A-Z]{3}$/;

/** The OS' own words for a full disk or an exhausted quota, should one reach us unwrapped. */
const DISK_FULL_ERRNOS = new Set(["ENOSPC", "EDQUOT"]);

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
  if (code === DISK_FULL_SQLSTATE) return { kind: "disk_full", sqlstate: code };
  if (DISK_FULL_ERRNOS.has(code)) return { kind: "disk_full" };
  if (INSUFFICIENT_RESOURCES.test(code)) return { kind: "insufficient_resources", sqlstate: code };
  if (code === "23505") return withConstraint("unique_violation", source);
  if (code === "23503") return withConstraint("foreign_key_violation", source);
  return SQLSTATE.test(code) ? { kind: "other", sqlstate: code } : { kind: "other" };
}

/**
 * The first error in the `err` → `cause` chain (or an AggregateError's errors) with a code: a
 * SQLSTATE, an errno code (`ECONNREFUSED`) or a postgres.js code (`CONNECT_TIMEOUT`). `source` is
 * that error, for its other fields (never its message).
 */
export function findCoded(err: unknown, depth = 0): { code: string; source: object } | undefined {
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

/**
 * What may be logged of any error: its name, plus the SQLSTATE (or errno code) of a database
 * error instead of its message, which may list bound parameters.
 */
export function safeErrorSummary(err: unknown): { name: string; message?: string; sqlstate?: string; code?: string } {
  const isQueryError = err instanceof Error && (err.name === "DrizzleQueryError" || ("query" in err && "params" in err));
  // drizzle leaves its error's name as "Error": say what it is.
  const name = isQueryError ? "DrizzleQueryError" : err instanceof Error ? err.name : typeof err;
  const found = findCoded(err);
  if (found || isQueryError) {
    const code = found?.code;
    if (code === undefined) return { name };
    return SQLSTATE.test(code) ? { name, sqlstate: code } : { name, code };
  }
  return { name, message: err instanceof Error ? err.message : "non-error thrown" };
}
