/**
 * Data access for key custody: the check value of every key that has sealed a password, how
 * many stored passwords each key seals, the reserved encryption counts (the nonce budget), and
 * retirement. None of it is workspace data: these are the operator's queries, unscoped on
 * purpose, and none reads a ciphertext except `sampleSealedBy` (one row, to prove a key that
 * has no check value yet).
 */
import { and, asc, count, eq, isNotNull, isNull, lte, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { encryptionKeys, registries } from "../schema.js";

export type EncryptionKeyRecord = typeof encryptionKeys.$inferSelect;

export type ReserveOutcome =
  | { outcome: "granted"; granted: number; reservedTotal: number }
  | { outcome: "retired" | "exhausted" | "unrecorded" };

export type RetireOutcome =
  | { outcome: "retired" | "already_retired" | "unrecorded" }
  | { outcome: "in_use"; sealed: number };

export type EncryptionKeyRepository = ReturnType<typeof createEncryptionKeyRepository>;

export function createEncryptionKeyRepository(db: Db) {
  const sealedByKey = (keyId: string) =>
    and(eq(registries.passwordKeyId, keyId), isNotNull(registries.passwordCiphertext));

  return {
    /** Every recorded key, oldest first. */
    list(): Promise<EncryptionKeyRecord[]> {
      return db.select().from(encryptionKeys).orderBy(asc(encryptionKeys.createdAt), asc(encryptionKeys.keyId));
    },

    /** Stored passwords per key id (tombstones hold none): one scan of the registries. */
    async sealedCounts(): Promise<Map<string, number>> {
      const rows = await db
        .select({ keyId: registries.passwordKeyId, sealed: count() })
        .from(registries)
        .where(isNotNull(registries.passwordCiphertext))
        .groupBy(registries.passwordKeyId);
      return new Map(rows.filter((r) => r.keyId !== null).map((r) => [r.keyId!, r.sealed]));
    },

    /** One password sealed by the key, with what its encryption context needs. */
    async sampleSealedBy(keyId: string): Promise<{ id: string; workspaceId: string; passwordCiphertext: string } | null> {
      const [row] = await db
        .select({ id: registries.id, workspaceId: registries.workspaceId, passwordCiphertext: registries.passwordCiphertext })
        .from(registries)
        .where(sealedByKey(keyId))
        .limit(1);
      return row ? { ...row, passwordCiphertext: row.passwordCiphertext! } : null;
    },

    /**
     * Records a key's check value unless the key is recorded already, and returns the stored
     * record: the caller compares its own check value with the stored one, so two processes
     * configured with different bytes under one id cannot both win.
     */
    async record(keyId: string, checkValue: string, at: Date): Promise<EncryptionKeyRecord> {
      await db.insert(encryptionKeys).values({ keyId, checkValue, createdAt: at }).onConflictDoNothing();
      const [stored] = await db.select().from(encryptionKeys).where(eq(encryptionKeys.keyId, keyId));
      return stored!;
    },

    /**
     * Reserves up to `wanted` encryptions under the key, never past `max` in total: each attempt
     * is one conditional statement, so concurrent processes cannot overshoot. Grants what is left
     * when less than `wanted` remains; refuses a retired, exhausted or unrecorded key.
     */
    async reserve(keyId: string, wanted: number, max: number): Promise<ReserveOutcome> {
      let ask = wanted;
      // Each retry follows another process's reservation of the last few encryptions: bounded.
      for (let attempt = 0; attempt < 5; attempt++) {
        const [row] = await db
          .update(encryptionKeys)
          .set({ encryptionsReserved: sql`${encryptionKeys.encryptionsReserved} + ${ask}` })
          .where(
            and(
              eq(encryptionKeys.keyId, keyId),
              isNull(encryptionKeys.retiredAt),
              lte(encryptionKeys.encryptionsReserved, max - ask),
            ),
          )
          .returning({ reservedTotal: encryptionKeys.encryptionsReserved });
        if (row) return { outcome: "granted", granted: ask, reservedTotal: row.reservedTotal };
        const [key] = await db.select().from(encryptionKeys).where(eq(encryptionKeys.keyId, keyId));
        if (!key) return { outcome: "unrecorded" };
        if (key.retiredAt) return { outcome: "retired" };
        if (key.encryptionsReserved >= max) return { outcome: "exhausted" };
        ask = Math.min(wanted, max - key.encryptionsReserved);
      }
      return { outcome: "exhausted" };
    },

    /** Adds encryptions done outside a reservation (the start-up self-test) to recorded keys. */
    async addEncryptions(keyIds: readonly string[], n: number): Promise<void> {
      for (const keyId of keyIds) {
        await db
          .update(encryptionKeys)
          .set({ encryptionsReserved: sql`${encryptionKeys.encryptionsReserved} + ${n}` })
          .where(eq(encryptionKeys.keyId, keyId));
      }
    },

    /**
     * Marks a key retired: it seals nothing more and may leave the configuration. Refused while
     * any stored password is sealed by it. The key row is locked first, so a concurrent
     * reservation waits and then sees the retirement.
     */
    retire(keyId: string, at: Date): Promise<RetireOutcome> {
      return db.transaction(async (tx) => {
        const [key] = await tx.select().from(encryptionKeys).where(eq(encryptionKeys.keyId, keyId)).for("update");
        if (!key) return { outcome: "unrecorded" };
        if (key.retiredAt) return { outcome: "already_retired" };
        // An aggregate without GROUP BY answers exactly one row.
        const [counted] = await tx.select({ sealed: count() }).from(registries).where(sealedByKey(keyId));
        const sealed = counted!.sealed;
        if (sealed > 0) return { outcome: "in_use", sealed };
        await tx.update(encryptionKeys).set({ retiredAt: at }).where(eq(encryptionKeys.keyId, keyId));
        return { outcome: "retired" };
      });
    },
  };
}
