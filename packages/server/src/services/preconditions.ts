import { DomainError } from "../errors.js";

/**
 * What an `If-Match` asks of the object a write replaces: any current version (`*`), or one of
 * these versions. Parsed from the header in `http/entity-tags.ts`; absent means no condition.
 */
export type VersionPrecondition = "any" | readonly number[];

/**
 * How often a write re-reads and re-checks an object that moved under it before giving up. Each
 * lost compare-and-set means another write committed, so the object makes progress; the bound
 * only keeps one request from chasing a hot object forever.
 */
export const MAX_WRITE_ATTEMPTS = 16;

/**
 * Compare-and-set attempts before a write that may take a row lock does so: a second loss in a
 * row means the object is hot, and re-reading again mostly loses again (measured: with 64
 * writers on one row, two thirds of them ran out of 16 attempts even with backoff).
 */
export const OPTIMISTIC_ATTEMPTS = 2;

/** Ceiling of the wait after a lost compare-and-set. */
const MAX_BACKOFF_MS = 250;

/**
 * The wait before attempt `attempt + 1` after a lost compare-and-set: full jitter on an
 * exponential step (2, 4, 8 … ms, capped). Without it, writers that lost together re-read
 * together and lose together again: measured with 64 concurrent writers on one row and 5
 * connections, two thirds ran out of attempts when they retried at once.
 */
export function afterLostRace(attempt: number, random: () => number = Math.random): Promise<void> {
  const ms = random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function satisfies(precondition: VersionPrecondition | undefined, version: number): boolean {
  return precondition === undefined || precondition === "any" || precondition.includes(version);
}

/** 412 unless the object's current version is one the caller named. */
export function assertPrecondition(precondition: VersionPrecondition | undefined, version: number, what: string): void {
  if (satisfies(precondition, version)) return;
  throw new DomainError(
    "precondition_failed",
    `The ${what} changed since the version in If-Match (it is now at version ${version}); read it again, then retry.`,
  );
}

/** The object kept changing for `MAX_WRITE_ATTEMPTS` reads: 409, for the client to retry. */
export function concurrentModification(what: string): DomainError {
  return new DomainError(
    "concurrent_modification",
    `The ${what} kept changing while this request was applied; read it again, then retry.`,
  );
}
