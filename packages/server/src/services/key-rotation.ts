import type { Cipher } from "@modbox/crypto";
import type { CredentialRotationRepository } from "../db/repositories/credential-rotation.js";
import { credentialContext } from "./credential-context.js";
import type { EncryptionBudget } from "./encryption-budget.js";

export interface RotationProgress {
  rotated: number;
  failed: number;
  /** Passes over the table so far: a second pass picks up rows that were busy in the first. */
  pass: number;
  elapsedMs: number;
}

export interface RotationSummary extends RotationProgress {
  /** Passwords that could not be opened with the configured keys: left as they were. */
  failedIds: string[];
  /** Passwords still not on the active key once done (busy rows after the last pass, failures). */
  remaining: number;
}

export interface KeyRotationDeps {
  rotation: Pick<CredentialRotationRepository, "rotateBatch" | "countNotOn">;
  cipher: Pick<Cipher, "activeKeyId" | "encrypt" | "decrypt">;
  budget: EncryptionBudget;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_ROTATION_BATCH = 500;
/** Passes after the first, for rows a concurrent write held: bounded, then the rest is reported. */
const MAX_PASSES = 10;
const PAUSE_BETWEEN_PASSES_MS = 200;

/**
 * Re-encrypts every stored password that is not on the active key, in batches of bounded size,
 * each its own transaction (see `rotateBatch`). Stateless, so it resumes after a crash by being
 * run again: what was committed is on the active key and is not claimed again.
 */
export async function rotateToActiveKey(
  deps: KeyRotationDeps,
  options: { batchSize?: number; onProgress?: (progress: RotationProgress) => void } = {},
): Promise<RotationSummary> {
  const { rotation, cipher, budget } = deps;
  const clock = deps.clock ?? (() => performance.now());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const batchSize = options.batchSize ?? DEFAULT_ROTATION_BATCH;
  const started = clock();
  // Failures are those of the latest pass only: a row fixed meanwhile (a new password PUT, a
  // deleted registry) is not reported, and a busy row is never mistaken for a failed one.
  let failed = new Set<string>();
  let rotated = 0;
  let pass = 0;

  const reseal = (row: { id: string; workspaceId: string; passwordCiphertext: string }): string | null => {
    const context = credentialContext(row.workspaceId, row.id);
    let password: string;
    try {
      password = cipher.decrypt(row.passwordCiphertext, context);
    } catch {
      return null;
    }
    return cipher.encrypt(password, context);
  };
  const progress = (): RotationProgress => ({ rotated, failed: failed.size, pass, elapsedMs: clock() - started });

  // Passwords left to rotate, failures of the latest pass not included.
  let remaining = await rotation.countNotOn(cipher.activeKeyId);
  while (remaining > 0 && pass < 1 + MAX_PASSES) {
    if (pass > 0) await sleep(PAUSE_BETWEEN_PASSES_MS);
    pass++;
    const failedThisPass = new Set<string>();
    let afterId: string | null = null;
    // Bounded by the rows counted when the pass began (failures included: they are claimed again);
    // rows sealed meanwhile are on the active key.
    for (let left = remaining + failed.size; left > 0; ) {
      // Reserved before the batch's transaction opens: the reservation is a statement of its own,
      // and PGlite's single connection would wait on the open transaction.
      await budget.take(Math.min(batchSize, left));
      const batch = await rotation.rotateBatch({ activeKeyId: cipher.activeKeyId, afterId, limit: batchSize }, reseal);
      rotated += batch.rotated;
      for (const id of batch.failedIds) failedThisPass.add(id);
      failed = failedThisPass;
      options.onProgress?.(progress());
      if (batch.claimed < batchSize) break;
      afterId = batch.lastId;
      left -= batch.claimed;
    }
    failed = failedThisPass;
    // Anything left but this pass's failures was held by a concurrent write: another pass.
    remaining = await rotation.countNotOn(cipher.activeKeyId, [...failed]);
  }
  return { ...progress(), failedIds: [...failed], remaining: remaining + failed.size };
}
