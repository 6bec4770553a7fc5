/**
 * Data access for re-encrypting stored passwords to the active key. Unscoped on purpose (an
 * operator's job over every workspace); it reads ciphertexts only inside the batch that rewrites
 * them.
 */
import { and, asc, count, gt, isNotNull, ne, notInArray, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { registries } from "../schema.js";

export interface SealedPassword {
  id: string;
  workspaceId: string;
  passwordCiphertext: string;
  passwordKeyId: string;
}

export interface RotationBatch {
  /** Rows claimed (locked) in this batch; fewer than the limit means the end of a pass. */
  claimed: number;
  rotated: number;
  /** Rows whose password could not be opened: left as they are. */
  failedIds: string[];
  /** The last id claimed: the next batch starts after it. */
  lastId: string | null;
}

export type CredentialRotationRepository = ReturnType<typeof createCredentialRotationRepository>;

export function createCredentialRotationRepository(db: Db) {
  const notOn = (keyId: string) => and(isNotNull(registries.passwordCiphertext), ne(registries.passwordKeyId, keyId));

  return {
    /** Stored passwords sealed by any key but this one, leaving out `exceptIds` (known failures). */
    async countNotOn(keyId: string, exceptIds: readonly string[] = []): Promise<number> {
      // drizzle answers `true` for an empty list; an aggregate without GROUP BY answers exactly one row.
      const [row] = await db.select({ n: count() }).from(registries).where(and(notOn(keyId), notInArray(registries.id, [...exceptIds])));
      return row!.n;
    },

    /**
     * Claims up to `limit` passwords not on `activeKeyId` (after `afterId`, in id order), hands
     * each to `reseal`, and writes the new ciphertexts, all in one transaction.
     *
     * The rows are locked `FOR UPDATE SKIP LOCKED`: a concurrent `PUT` of a new password either
     * committed before (its row is then on the active key and not claimed) or waits for this
     * batch and then writes its own password over the re-encrypted one; a row a `PUT` holds is
     * skipped and found again by a later pass. Readers are never blocked and never see a half
     * state: each row holds the old envelope or the new one, and both keys are in the keyring.
     * `version` and `updated_at` stay as they are: the credential did not change.
     */
    rotateBatch(
      options: { activeKeyId: string; afterId: string | null; limit: number },
      reseal: (row: SealedPassword) => string | null,
    ): Promise<RotationBatch> {
      return db.transaction(async (tx) => {
        const rows = await tx
          .select({
            id: registries.id,
            workspaceId: registries.workspaceId,
            passwordCiphertext: registries.passwordCiphertext,
            passwordKeyId: registries.passwordKeyId,
          })
          .from(registries)
          .where(and(notOn(options.activeKeyId), options.afterId ? gt(registries.id, options.afterId) : undefined))
          .orderBy(asc(registries.id))
          .limit(options.limit)
          .for("update", { skipLocked: true });

        const failedIds: string[] = [];
        const resealed: { id: string; ciphertext: string; oldKeyId: string }[] = [];
        for (const row of rows) {
          const sealed = row as SealedPassword;
          const ciphertext = reseal(sealed);
          if (ciphertext === null) failedIds.push(row.id);
          else resealed.push({ id: row.id, ciphertext, oldKeyId: sealed.passwordKeyId });
        }
        if (resealed.length > 0) {
          // One statement for the batch; the key id comparison is a compare-and-set on top of
          // the row locks, so a row that changed key some other way is never overwritten.
          const values = sql.join(
            resealed.map((r) => sql`(${r.id}::uuid, ${r.ciphertext}, ${r.oldKeyId})`),
            sql`, `,
          );
          await tx.execute(sql`
            update ${registries} as r
            set password_ciphertext = v.ciphertext, password_key_id = ${options.activeKeyId}
            from (values ${values}) as v(id, ciphertext, old_key_id)
            where r.id = v.id and r.password_key_id = v.old_key_id`);
        }
        return {
          claimed: rows.length,
          rotated: resealed.length,
          failedIds,
          lastId: rows.at(-1)?.id ?? null,
        };
      });
    },
  };
}
