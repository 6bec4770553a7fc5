import { MAX_ENCRYPTIONS_PER_KEY, DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD } from "@modbox/crypto";
import type { ReserveOutcome } from "../db/repositories/encryption-keys.js";
import { DomainError } from "../errors.js";

/**
 * The nonce budget of the active key, counted across every process and restart. AES-GCM with
 * random 96-bit IVs is safe for at most 2^32 encryptions per key (NIST SP 800-38D), so the count
 * lives in the database, not in a process. A process reserves a block of encryptions at a time
 * (one UPDATE per block, not per password) and spends it locally; a block a process did not
 * finish stays counted, so the stored figure is an upper bound of what the key has really done.
 */
export interface EncryptionBudgetDeps {
  keys: { reserve(keyId: string, wanted: number, max: number): Promise<ReserveOutcome> };
  keyId: string;
  /** Encryptions reserved per database round trip. */
  blockSize?: number;
  /** Hard limit; past it the key encrypts nothing more. */
  max?: number;
  /** From this total on, `onWarning` fires (once per process). */
  warnAt?: number;
  onWarning(keyId: string, reservedTotal: number): void;
}

export interface EncryptionBudget {
  /** Waits until `n` encryptions under the active key are reserved, then spends them. */
  take(n?: number): Promise<void>;
}

export const DEFAULT_BLOCK_SIZE = 1024;

export function createEncryptionBudget(deps: EncryptionBudgetDeps): EncryptionBudget {
  const blockSize = deps.blockSize ?? DEFAULT_BLOCK_SIZE;
  const max = deps.max ?? MAX_ENCRYPTIONS_PER_KEY;
  const warnAt = deps.warnAt ?? DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD;
  let available = 0;
  let warned = false;
  // One reservation in flight at a time: concurrent requests wait for it instead of each
  // reserving a block of their own.
  let refilling: Promise<void> | undefined;

  async function refill(wanted: number): Promise<void> {
    const result = await deps.keys.reserve(deps.keyId, wanted, max);
    if (result.outcome !== "granted") throw unavailable(result.outcome);
    available += result.granted;
    if (!warned && result.reservedTotal >= warnAt) {
      warned = true;
      deps.onWarning(deps.keyId, result.reservedTotal);
    }
  }

  return {
    async take(n = 1) {
      while (available < n) {
        refilling ??= refill(Math.max(blockSize, n - available)).finally(() => {
          refilling = undefined;
        });
        await refilling;
      }
      available -= n;
    },
  };
}

function unavailable(reason: Exclude<ReserveOutcome["outcome"], "granted">): DomainError {
  const why = {
    exhausted: `has reached its limit of ${MAX_ENCRYPTIONS_PER_KEY} encryptions`,
    retired: "was retired",
    unrecorded: "is not recorded in the database's key custody table",
  }[reason];
  return new DomainError(
    "encryption_key_unavailable",
    `The active encryption key ${why}, so no password can be stored. The operator must make a new key active (see "Key rotation" in the README).`,
  );
}
