/**
 * Data access for API tokens. Tokens are not workspace objects (a token is granted workspaces),
 * so these methods are the only unscoped queries. Only the SHA-256 hash of a token is stored,
 * and no method returns it.
 */
import { and, desc, eq, isNotNull, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../client.js";
import type { ApiTokenListQuery, ApiTokenRecord, NewApiToken } from "../records.js";
import { apiTokens } from "../schema.js";

const recordColumns = {
  id: apiTokens.id,
  name: apiTokens.name,
  scope: apiTokens.scope,
  workspaceIds: apiTokens.workspaceIds,
  createdAt: apiTokens.createdAt,
  lastUsedAt: apiTokens.lastUsedAt,
  revokedAt: apiTokens.revokedAt,
  createdBy: apiTokens.createdBy,
};

export type ApiTokenRepository = ReturnType<typeof createApiTokenRepository>;

/**
 * The PostgreSQL notification channel a revocation is announced on; its payload is the token's
 * id (never the token, nor its hash). Every server LISTENs on it (auth/revocation-listener.ts).
 */
export const TOKEN_REVOCATIONS_CHANNEL = "modbox_api_tokens";

export function createApiTokenRepository(db: Db) {
  // Every authenticated request runs this one: built once, a named prepared statement on PostgreSQL.
  const findActiveByHashQuery = db
    .select(recordColumns)
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, sql.placeholder("tokenHash")), isNull(apiTokens.revokedAt)))
    .prepare(
      // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
      "api_tokens_find_active_by_hash",
    );

  return {
    async insert(t: NewApiToken): Promise<ApiTokenRecord> {
      const [created] = await db
        .insert(apiTokens)
        .values({
          id: t.id,
          name: t.name,
          scope: t.scope,
          workspaceIds: t.workspaceIds,
          tokenHash: t.tokenHash,
          createdAt: t.createdAt,
          createdBy: t.createdBy ?? null,
        })
        .returning(recordColumns);
      return created!;
    },

    /**
     * The unrevoked token with this hash. The lookup is by an index on the hash of a
     * high-entropy secret, so its timing reveals nothing useful about a guess.
     */
    async findActiveByHash(tokenHash: string): Promise<ApiTokenRecord | null> {
      const [found] = await findActiveByHashQuery.execute({ tokenHash });
      return found ?? null;
    },

    /** The token with this id, revoked or not; null when there is none. */
    async findById(id: string): Promise<ApiTokenRecord | null> {
      const [found] = await db.select(recordColumns).from(apiTokens).where(eq(apiTokens.id, id));
      return found ?? null;
    },

    /**
     * One page of tokens, newest first by id (UUIDv7), keyset-paginated like the other lists:
     * stable while tokens are created. `revoked` filters on the revocation.
     */
    page(q: ApiTokenListQuery): Promise<ApiTokenRecord[]> {
      const conditions: SQL[] = [];
      if (q.beforeId !== undefined) conditions.push(lt(apiTokens.id, q.beforeId));
      if (q.revoked !== undefined) conditions.push(q.revoked ? isNotNull(apiTokens.revokedAt) : isNull(apiTokens.revokedAt));
      return db
        .select(recordColumns)
        .from(apiTokens)
        .where(and(...conditions))
        .orderBy(desc(apiTokens.id))
        .limit(q.limit);
    },

    /** Every token, revoked ones included, newest first. */
    list(): Promise<ApiTokenRecord[]> {
      return db
        .select(recordColumns)
        .from(apiTokens)
        .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
    },

    /**
     * Revokes the token and announces it to every server (NOTIFY, delivered when the statement
     * commits, so never for a revocation that did not happen); false when missing or already
     * revoked. One statement: the revocation and its notice cannot be separated.
     */
    async revoke(id: string, at: Date): Promise<boolean> {
      const revoked = db.$with("revoked").as(
        db
          .update(apiTokens)
          .set({ revokedAt: at })
          .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
          .returning({ id: apiTokens.id }),
      );
      const announced = await db
        .with(revoked)
        .select({ notified: sql`pg_notify(${TOKEN_REVOCATIONS_CHANNEL}, ${revoked.id}::text)` })
        .from(revoked);
      return announced.length > 0;
    },

    /** Records a use; never moves `lastUsedAt` backwards (requests finish out of order). */
    async touchLastUsed(id: string, at: Date): Promise<void> {
      await db
        .update(apiTokens)
        .set({ lastUsedAt: at })
        .where(
          and(
            eq(apiTokens.id, id),
            or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, at)),
          ),
        );
    },
  };
}
