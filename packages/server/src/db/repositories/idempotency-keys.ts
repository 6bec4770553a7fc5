/**
 * Data access for `Idempotency-Key`s. A key is claimed by inserting its row (the primary key
 * makes one request win), answered by the request that holds it, released when that request
 * did nothing, and taken over when it expired or its holder vanished. A holder is named by its
 * `leaseUntil`, so a request whose lease was taken over can no longer answer or release.
 */
import { and, eq, lte, or, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { idempotencyKeys } from "../schema.js";
import { boundPlaceholder } from "./bound-placeholder.js";

export interface IdempotencyScope {
  tokenId: string;
  workspaceId: string;
  key: string;
}

export type IdempotencyRecord = typeof idempotencyKeys.$inferSelect;

export interface NewClaim {
  fingerprint: string;
  leaseUntil: Date;
  createdAt: Date;
  expiresAt: Date;
}

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyKeyRepository = ReturnType<typeof createIdempotencyKeyRepository>;

export function createIdempotencyKeyRepository(db: Db) {
  const scoped = (scope: IdempotencyScope) =>
    and(eq(idempotencyKeys.tokenId, scope.tokenId), eq(idempotencyKeys.workspaceId, scope.workspaceId), eq(idempotencyKeys.key, scope.key));
  const placeholderScope = and(
    eq(idempotencyKeys.tokenId, sql.placeholder("tokenId")),
    eq(idempotencyKeys.workspaceId, sql.placeholder("workspaceId")),
    eq(idempotencyKeys.key, sql.placeholder("key")),
  );
  const held = and(
    placeholderScope,
    eq(idempotencyKeys.state, "running"),
    eq(idempotencyKeys.leaseUntil, boundPlaceholder("leaseUntil", idempotencyKeys.leaseUntil)),
  );
  const t = idempotencyKeys;

  // Every POST with a key runs the claim and the answer: prepared once (see registries.ts).
  const claimQuery = db
    .insert(idempotencyKeys)
    .values({
      tokenId: sql.placeholder("tokenId"),
      workspaceId: sql.placeholder("workspaceId"),
      key: sql.placeholder("key"),
      fingerprint: sql.placeholder("fingerprint"),
      state: "running",
      leaseUntil: boundPlaceholder("leaseUntil", t.leaseUntil),
      createdAt: boundPlaceholder("createdAt", t.createdAt),
      expiresAt: boundPlaceholder("expiresAt", t.expiresAt),
    })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key })
    .prepare("idempotency_keys_claim");
  const findQuery = db.select().from(idempotencyKeys).where(placeholderScope).prepare("idempotency_keys_find");
  const answerQuery = db
    .update(idempotencyKeys)
    .set({
      state: "answered",
      responseStatus: boundPlaceholder("status", t.responseStatus),
      responseHeaders: boundPlaceholder("headers", t.responseHeaders),
      responseBody: boundPlaceholder("body", t.responseBody),
    })
    .where(held)
    .returning({ key: idempotencyKeys.key })
    .prepare("idempotency_keys_answer");

  return {
    /** Inserts the key as running; false when it exists already (whatever its state). */
    async claim(scope: IdempotencyScope, claim: NewClaim): Promise<boolean> {
      const rows = await claimQuery.execute({ ...scope, ...claim });
      return rows.length > 0;
    },

    async find(scope: IdempotencyScope): Promise<IdempotencyRecord | null> {
      const [row] = await findQuery.execute({ ...scope });
      return row ?? null;
    },

    /**
     * Claims a key that is expired, or running past its lease (its holder died): false when
     * another request took it first, or it is neither.
     */
    async takeOver(scope: IdempotencyScope, claim: NewClaim, now: Date): Promise<boolean> {
      const rows = await db
        .update(idempotencyKeys)
        .set({ ...claim, state: "running", responseStatus: null, responseHeaders: null, responseBody: null })
        .where(
          and(
            scoped(scope),
            or(lte(idempotencyKeys.expiresAt, now), and(eq(idempotencyKeys.state, "running"), lte(idempotencyKeys.leaseUntil, now))),
          ),
        )
        .returning({ key: idempotencyKeys.key });
      return rows.length > 0;
    },

    /** Stores the answer of the request holding the key (`leaseUntil`); false when it no longer holds it. */
    async answer(scope: IdempotencyScope, leaseUntil: Date, answer: StoredAnswer): Promise<boolean> {
      const rows = await answerQuery.execute({ ...scope, leaseUntil, ...answer });
      return rows.length > 0;
    },

    /** Frees the key of a request that did nothing, so that its retry runs again. */
    async release(scope: IdempotencyScope, leaseUntil: Date): Promise<void> {
      await db.delete(idempotencyKeys).where(and(scoped(scope), eq(idempotencyKeys.state, "running"), eq(idempotencyKeys.leaseUntil, leaseUntil)));
    },

    /** Deletes up to `limit` expired keys (a bounded batch: one sweep never holds many locks); answers how many. */
    async deleteExpired(now: Date, limit: number): Promise<number> {
      const expired = db.select({ tokenId: t.tokenId, workspaceId: t.workspaceId, key: t.key }).from(t).where(lte(t.expiresAt, now)).limit(limit);
      const rows = await db
        .delete(t)
        .where(sql`(${t.tokenId}, ${t.workspaceId}, ${t.key}) in (${expired})`)
        .returning({ key: t.key });
      return rows.length;
    },
  };
}
