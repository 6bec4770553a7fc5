import type { Cipher } from "@modbox/crypto";
import type { IdempotencyKeyRepository, IdempotencyScope, NewClaim, StoredAnswer } from "../db/repositories/idempotency-keys.js";

export type { IdempotencyScope, NewClaim, StoredAnswer };

/** How long a key is kept (and its answer replayed). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * How long the first request holds its key. Longer than any request runs (the slowest, a
 * `?verify=true` login, is bounded by the outbound timeouts); past it the holder is taken for
 * dead (a crashed instance) and a retry may run the request again.
 */
export const IDEMPOTENCY_LEASE_MS = 60_000;

/** Expired keys deleted per sweep, and how often one instance sweeps. */
const SWEEP_BATCH = 1_000;
const SWEEP_EVERY_MS = 10 * 60 * 1000;

/** What to do with a request that carries an `Idempotency-Key`. */
export type Claim =
  /** The first request with this key: run it, then `answer` (it did something) or `release` (it did nothing). */
  | { kind: "run"; answer(answer: StoredAnswer): Promise<void>; release(): Promise<void> }
  /** Already answered: send this again. */
  | { kind: "replay"; answer: StoredAnswer }
  /** The key was used for another request. */
  | { kind: "reused" }
  /** The first request with this key is still running. */
  | { kind: "in_progress"; retryAfterSeconds: number };

export interface IdempotencyServiceDeps {
  keys: Pick<IdempotencyKeyRepository, "claim" | "find" | "takeOver" | "answer" | "release" | "deleteExpired">;
  cipher: Pick<Cipher, "fingerprint" | "matchesFingerprint">;
  now: () => Date;
  /** Where a failed sweep is reported; sweeping is housekeeping and never fails a request. */
  onSweepError?: (error: unknown) => void;
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>;

/**
 * `Idempotency-Key`s, kept in the database so that a retry reaching another instance is
 * recognised too. A request is identified by a keyed fingerprint of its method, path, query and
 * body (`request`), never stored in clear: a registry body holds a password.
 */
export function createIdempotencyService(deps: IdempotencyServiceDeps) {
  const { keys } = deps;
  let lastSweep = 0;

  function sweepNowAndThen(now: Date): void {
    if (now.getTime() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = now.getTime();
    keys.deleteExpired(now, SWEEP_BATCH).catch((error: unknown) => deps.onSweepError?.(error));
  }

  function held(scope: IdempotencyScope, leaseUntil: Date): Claim {
    return {
      kind: "run",
      answer: async (answer) => {
        await keys.answer(scope, leaseUntil, answer);
      },
      release: () => keys.release(scope, leaseUntil),
    };
  }

  /**
   * The key's row for this request, now: its fingerprint, lease and expiry. A route that can
   * write its answer together with its work (a registry create) inserts it itself; `claim`
   * takes it too, so the fingerprint is computed once.
   */
  function newClaim(request: string): NewClaim {
    const now = deps.now();
    sweepNowAndThen(now);
    return {
      fingerprint: deps.cipher.fingerprint(request),
      leaseUntil: new Date(now.getTime() + IDEMPOTENCY_LEASE_MS),
      createdAt: now,
      expiresAt: new Date(now.getTime() + IDEMPOTENCY_KEY_TTL_MS),
    };
  }

  return {
    newClaim,

    async claim(scope: IdempotencyScope, request: string, prepared?: NewClaim): Promise<Claim> {
      const now = deps.now();
      const claim = prepared ?? newClaim(request);
      const { leaseUntil } = claim;
      // Twice at most: a key deleted (released, swept) between the insert and the read is free again.
      for (let attempt = 0; attempt < 2; attempt++) {
        if (await keys.claim(scope, claim)) return held(scope, leaseUntil);
        const row = await keys.find(scope);
        if (!row) continue;
        const expired = row.expiresAt <= now;
        const abandoned = row.state === "running" && row.leaseUntil <= now;
        if (expired || abandoned) {
          if (await keys.takeOver(scope, claim, now)) return held(scope, leaseUntil);
          continue;
        }
        if (!deps.cipher.matchesFingerprint(row.fingerprint, request)) return { kind: "reused" };
        if (row.state === "running") {
          return { kind: "in_progress", retryAfterSeconds: 1 };
        }
        return {
          kind: "replay",
          answer: { status: row.responseStatus!, headers: row.responseHeaders ?? {}, body: row.responseBody ?? "" },
        };
      }
      // Two races lost in a row: another request with this key is at work.
      return { kind: "in_progress", retryAfterSeconds: 1 };
    },
  };
}
