/**
 * Data access for registries. Every method is scoped by workspace in its WHERE; a deleted
 * registry (a tombstone kept for linked images) is invisible here. The ciphertext is written
 * by insert/update and read only where it is used: `findForUse` here (verification, provider
 * re-checks) and the joined read of `pull-resolution.ts` (pull checks and credentials).
 */
import { and, desc, eq, getTableColumns, isNull, lt, sql, type Column, type Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "../client.js";
import type {
  NewRegistry,
  RegistryForUse,
  RegistryListQuery,
  RegistryPatch,
  RegistryRecord,
  VerificationState,
} from "../records.js";
import type { ProviderName } from "../../registry-protocol/providers.js";
import { providerOf } from "../derived-columns.js";
import { idempotencyKeys, registries } from "../schema.js";
import type { IdempotencyScope, NewClaim, StoredAnswer } from "./idempotency-keys.js";
import { boundPlaceholder } from "./bound-placeholder.js";
import { preparedPerFilters } from "./prepared-per-filters.js";
import { linkedImages, type Queryable } from "./sandbox-images.js";

/**
 * The unique index behind "one live registry per name per workspace": a unique violation
 * naming it means the name is taken (409).
 */
export const REGISTRY_NAME_UNIQUE = "registries_workspace_name_live_key";

/** The columns a registry's writer sets (all of a `RegistryRecord` but the version, which the database keeps). */
const writtenColumns = {
  id: registries.id,
  workspaceId: registries.workspaceId,
  name: registries.name,
  server: registries.server,
  provider: registries.provider,
  username: registries.username,
  email: registries.email,
  enabled: registries.enabled,
  authType: registries.authType,
  caCertificate: registries.caCertificate,
  warnings: registries.warnings,
  verificationStatus: registries.verificationStatus,
  verificationCheckedAt: registries.verificationCheckedAt,
  verificationErrorCode: registries.verificationErrorCode,
  verificationDetail: registries.verificationDetail,
  lastUsedAt: registries.lastUsedAt,
  createdAt: registries.createdAt,
  updatedAt: registries.updatedAt,
};

/**
 * The columns of a `RegistryRecord`, deliberately not the ciphertext or its key id: every read
 * selects this one object, and `returning` answers it.
 */
export const registryColumns = { ...writtenColumns, version: registries.version };

/** A `RegistryForUse`: the record's columns, whether it was deleted, and the sealed password. */
export const registryForUseColumns = {
  ...registryColumns,
  deletedAt: registries.deletedAt,
  passwordCiphertext: registries.passwordCiphertext,
};

/** What `insert` writes: the record's columns and the sealed password (`version` takes its default). */
const insertedColumns = {
  ...writtenColumns,
  passwordCiphertext: registries.passwordCiphertext,
  passwordKeyId: registries.passwordKeyId,
};

/** What a registry that was only just written is, for the fields a `NewRegistry` may leave out. */
const NOT_YET_SET: Required<Pick<NewRegistry, "authType" | "caCertificate" | "warnings" | "lastUsedAt" | keyof VerificationState>> = {
  authType: "basic",
  caCertificate: null,
  warnings: [],
  verificationStatus: "unverified",
  verificationCheckedAt: null,
  verificationErrorCode: null,
  verificationDetail: null,
  lastUsedAt: null,
};

/**
 * The fields `update` may write, in a fixed order: bit i of a patch's shape is `PATCHABLE[i]`.
 * A list checked at run time, so that nothing else a patch might carry (it is built from a
 * request body) can ever be written: `provider` follows `server`, `updatedAt` is always set and
 * `version` always bumped.
 */
const PATCHABLE = [
  "name",
  "server",
  "username",
  "email",
  "enabled",
  "caCertificate",
  "warnings",
  "verificationStatus",
  "verificationCheckedAt",
  "verificationErrorCode",
  "verificationDetail",
  "passwordCiphertext",
  "passwordKeyId",
] as const satisfies readonly Exclude<keyof RegistryPatch, "updatedAt">[];

/**
 * How many update shapes (sets of patch fields) get a prepared statement; the service sends a
 * handful. Any other shape runs as an ordinary (unnamed) statement, so a caller varying its
 * fields cannot pile up statements on every PostgreSQL connection.
 */
const MAX_PREPARED_UPDATE_SHAPES = 32;

/** One placeholder per column, named after its field: the values of a prepared statement. */
function placeholdersFor<T extends Record<string, Column>>(columns: T): { [K in keyof T]: SQL } {
  const placeholders: Record<string, SQL> = {};
  for (const [key, column] of Object.entries(columns)) placeholders[key] = boundPlaceholder(key, column);
  return placeholders as { [K in keyof T]: SQL };
}

/**
 * Rows read through `registryColumns` with `provider` non-null, as the record says: the
 * repository writes it with every server, and `migrateDatabase` fills rows written around the app.
 */
function asRecord<T extends { provider: ProviderName | null }>(row: T): T & { provider: ProviderName } {
  return row as T & { provider: ProviderName };
}

/** Bit i set when `PATCHABLE[i]` is defined in the patch: which prepared UPDATE it takes. */
function shapeOf(patch: RegistryPatch): number {
  let shape = 0;
  PATCHABLE.forEach((key, i) => {
    if (patch[key] !== undefined) shape |= 1 << i;
  });
  return shape;
}

/** The record's fields of an insert's values (what `returning(registryColumns)` would answer, but the version). */
function pickRecord(values: Record<string, unknown>): Omit<RegistryRecord, "version"> {
  const record: Record<string, unknown> = {};
  for (const key of Object.keys(writtenColumns)) record[key] = values[key];
  return record as Omit<RegistryRecord, "version">;
}

/**
 * `insertClaimingKey`'s statement:
 *
 *   with "claim" as (insert into "idempotency_keys" (…) values (…, 'answered', $status, $headers, $body, …)
 *                    on conflict do nothing returning "key")
 *   insert into "registries" (…every column, in the table's order…) select $id::uuid, …, 1, null from "claim"
 *
 * The registry is inserted only from the claim's row, so a key that exists already inserts
 * nothing (a concurrent claim of the same key waits on the index until the first commits, then
 * sees it), and a registry the database refuses (a taken name) rolls the claim back with it.
 */
function buildInsertClaimingKey(db: Db) {
  const k = idempotencyKeys;
  const claim = db.$with("claim").as(
    db
      .insert(k)
      .values({
        tokenId: sql.placeholder("keyTokenId"),
        workspaceId: sql.placeholder("keyWorkspaceId"),
        key: sql.placeholder("key"),
        fingerprint: sql.placeholder("keyFingerprint"),
        state: "answered",
        leaseUntil: boundPlaceholder("keyLeaseUntil", k.leaseUntil),
        responseStatus: boundPlaceholder("answerStatus", k.responseStatus),
        responseHeaders: boundPlaceholder("answerHeaders", k.responseHeaders),
        responseBody: boundPlaceholder("answerBody", k.responseBody),
        createdAt: boundPlaceholder("keyCreatedAt", k.createdAt),
        expiresAt: boundPlaceholder("keyExpiresAt", k.expiresAt),
      })
      .onConflictDoNothing()
      .returning({ key: k.key }),
  );
  // An INSERT … SELECT names every column in the table's order; a parameter in a SELECT list
  // must be cast, or PostgreSQL types it as text.
  const selected: Record<string, SQL.Aliased> = {};
  for (const [key, column] of Object.entries(getTableColumns(registries))) {
    const value =
      key === "version" ? sql`1` : key === "deletedAt" ? sql`null::timestamptz` : boundPlaceholder(key, column, column.getSQLType());
    selected[key] = value.as(key);
  }
  const columns = selected as { [K in keyof typeof registries.$inferInsert]-?: SQL.Aliased };
  return db.with(claim).insert(registries).select(db.select(columns).from(claim)).returning({ id: registries.id });
}

export type RegistryRepository = ReturnType<typeof createRegistryRepository>;

export function createRegistryRepository(db: Db) {
  const live = (workspaceId: string | Placeholder, id: string | Placeholder) =>
    and(eq(registries.workspaceId, workspaceId), eq(registries.id, id), isNull(registries.deletedAt));

  // The hot reads, built once: drizzle skips building the SQL on every call, and postgres.js
  // runs them as named prepared statements (PostgreSQL parses and plans them once per
  // connection). PGlite runs the same statements through its own query path.
  const findByIdQuery = db
    .select(registryColumns)
    .from(registries)
    .where(live(sql.placeholder("workspaceId"), sql.placeholder("id")))
    .prepare(
      // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
      "registries_find_by_id",
    );
  const findForUseQuery = db
    .select(registryForUseColumns)
    .from(registries)
    .where(and(eq(registries.workspaceId, sql.placeholder("workspaceId")), eq(registries.id, sql.placeholder("id"))))
    .prepare(
      // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
      "registries_find_for_use",
    );
  /** One statement per combination of list filters (server, enabled, cursor), built on first use. */
  const listQuery = preparedPerFilters(([server, enabled, cursor]) =>
    db
      .select(registryColumns)
      .from(registries)
      .where(
        and(
          eq(registries.workspaceId, sql.placeholder("workspaceId")),
          isNull(registries.deletedAt),
          // The server and the repository prefixes under it. starts_with is not an index
          // condition: with a server filter the list index is walked and rows filtered.
          server
            ? sql`(${registries.server} = ${sql.placeholder("server")} OR starts_with(${registries.server}, ${sql.placeholder("server")} || '/'))`
            : undefined,
          enabled ? eq(registries.enabled, sql.placeholder("enabled")) : undefined,
          cursor ? lt(registries.id, sql.placeholder("beforeId")) : undefined,
        ),
      )
      .orderBy(desc(registries.id))
      .limit(sql.placeholder("limit"))
      .prepare(
        // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
        `registries_list_${Number(server)}${Number(enabled)}${Number(cursor)}`,
      ),
  );

  // The writes of create and rotate are prepared too: building a drizzle INSERT or UPDATE costs
  // more CPU than the rest of the request's own code (measured: create 1.8 → 2.9 and rotate
  // 2.4 → 4.0 ms of server CPU per request when they were built on every call).
  // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
  const insertQuery = db.insert(registries).values(placeholdersFor(insertedColumns)).returning(registryColumns).prepare("registries_insert");
  // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
  const insertClaimingKeyQuery = buildInsertClaimingKey(db).prepare("registries_insert_claiming_key");

  /** The values `insert` binds: the row, its derived provider, and "none yet" for what it left out. */
  function insertValues(row: NewRegistry): Record<string, unknown> {
    const values: Record<string, unknown> = { ...row, provider: providerOf(row.server) };
    for (const [key, notYet] of Object.entries(NOT_YET_SET)) values[key] ??= notYet;
    return values;
  }

  /**
   * The UPDATE for one shape of patch: bit i set when `PATCHABLE[i]` is defined in it, and
   * `provider` written with `server`. As with drizzle's `set()`, a null field writes NULL.
   */
  function buildUpdate(shape: number, q: Queryable = db) {
    const set: Record<string, SQL> = {};
    PATCHABLE.forEach((key, i) => {
      if (shape & (1 << i)) set[key] = boundPlaceholder(key, registries[key]);
    });
    if (set.server) set.provider = boundPlaceholder("provider", registries.provider);
    return q
      .update(registries)
      .set({ ...set, updatedAt: boundPlaceholder("updatedAt", registries.updatedAt), version: sql`${registries.version} + 1` })
      .where(and(live(sql.placeholder("workspaceId"), sql.placeholder("id")), eq(registries.version, sql.placeholder("expectedVersion"))))
      .returning(registryColumns);
  }
  const updateQueries = new Map<number, ReturnType<ReturnType<typeof buildUpdate>["prepare"]>>();

  /**
   * Prepares the UPDATE of a shape not seen before and keeps it; undefined once
   * `MAX_PREPARED_UPDATE_SHAPES` are kept (that shape then runs unprepared).
   */
  function prepareUpdate(shape: number) {
    if (updateQueries.size >= MAX_PREPARED_UPDATE_SHAPES) return undefined;
    // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
    const query = buildUpdate(shape).prepare(`registries_update_${shape}`);
    updateQueries.set(shape, query);
    return query;
  }

  /**
   * Deletes the registry unless images still use it (or `force`), in one transaction: the row
   * is locked for update before the images are counted, and image writes share-lock it before
   * linking, so no image can slip in between the count and the delete. The credential is
   * destroyed and the name is free again at once.
   */
  function softDeleteUnlessLinked(
    workspaceId: string,
    id: string,
    at: Date,
    options: { force: boolean; listLimit: number; ifVersion?: (version: number) => boolean },
  ): Promise<
    | { outcome: "deleted" | "not_found" }
    | { outcome: "in_use"; ids: string[]; count: number }
    | { outcome: "version_mismatch"; version: number }
  > {
    return db.transaction(async (tx) => {
      const [target] = await tx
        .select({ id: registries.id, version: registries.version })
        .from(registries)
        .where(live(workspaceId, id))
        .for("update");
      if (!target) return { outcome: "not_found" as const };
      // Checked under the row lock: no write can move the version between this and the delete.
      if (options.ifVersion && !options.ifVersion(target.version)) {
        return { outcome: "version_mismatch" as const, version: target.version };
      }
      if (!options.force) {
        const linked = await linkedImages(tx, workspaceId, id, options.listLimit);
        if (linked.count > 0) return { outcome: "in_use" as const, ...linked };
      }
      await tx
        .update(registries)
        .set({
          deletedAt: at,
          updatedAt: at,
          passwordCiphertext: null,
          passwordKeyId: null,
          version: sql`${registries.version} + 1`,
        })
        .where(live(workspaceId, id));
      return { outcome: "deleted" as const };
    });
  }

  return {
    softDeleteUnlessLinked,

    /** Inserts a registry; a taken name throws the driver's unique violation (`REGISTRY_NAME_UNIQUE`). */
    async insert(row: NewRegistry): Promise<RegistryRecord> {
      const [created] = await insertQuery.execute(insertValues(row));
      return asRecord(created!);
    },

    /**
     * Inserts a registry and claims an `Idempotency-Key` with its answer, in one statement: both
     * rows or neither. The answer is built from the record before anything is written (every
     * value of a new row is known), so a keyed create costs no more round trips than a plain one
     * (measured: a separate claim and answer made keyed creates 0.65–0.74× as fast). Null, and
     * nothing written, when the key exists already: the caller reads it (replay, reuse, wait).
     * A taken name throws the unique violation as `insert` does, and claims nothing.
     */
    async insertClaimingKey(
      row: NewRegistry,
      key: { scope: IdempotencyScope; claim: NewClaim; answerOf: (record: RegistryRecord) => StoredAnswer },
    ): Promise<{ record: RegistryRecord; answer: StoredAnswer } | null> {
      const values = insertValues(row);
      const record = asRecord({ ...pickRecord(values), version: 1 });
      const answer = key.answerOf(record);
      const params = {
        ...values,
        keyTokenId: key.scope.tokenId,
        keyWorkspaceId: key.scope.workspaceId,
        key: key.scope.key,
        keyFingerprint: key.claim.fingerprint,
        keyLeaseUntil: key.claim.leaseUntil,
        keyCreatedAt: key.claim.createdAt,
        keyExpiresAt: key.claim.expiresAt,
        answerStatus: answer.status,
        answerHeaders: answer.headers,
        answerBody: answer.body,
      };
      const [created] = await insertClaimingKeyQuery.execute(params);
      return created ? { record, answer } : null;
    },

    /** The registry, or null when missing, deleted, or in another workspace. */
    async findById(workspaceId: string, id: string): Promise<RegistryRecord | null> {
      const [found] = await findByIdQuery.execute({ workspaceId, id });
      return found ? asRecord(found) : null;
    },

    /** Newest first; `beforeId` continues after the last id of the previous page. */
    async list(workspaceId: string, q: RegistryListQuery): Promise<RegistryRecord[]> {
      const query = listQuery([q.server !== undefined, q.enabled !== undefined, q.beforeId !== undefined]);
      const rows = await query.execute({ workspaceId, server: q.server, enabled: q.enabled, beforeId: q.beforeId, limit: q.limit });
      return rows.map(asRecord);
    },

    /**
     * Changes the given fields and bumps `version`, only if the row is still at `expectedVersion`
     * (compare-and-set: the caller checked its rules against that version). Null when the row
     * moved on, or is missing, deleted or foreign: the caller reads it again to tell which. One
     * prepared statement per shape of patch, built on first use (up to `MAX_PREPARED_UPDATE_SHAPES`).
     */
    async update(workspaceId: string, id: string, expectedVersion: number, patch: RegistryPatch): Promise<RegistryRecord | null> {
      const shape = shapeOf(patch);
      const query = updateQueries.get(shape) ?? prepareUpdate(shape) ?? buildUpdate(shape);
      const provider = patch.server === undefined ? undefined : providerOf(patch.server);
      const [updated] = await query.execute({ ...patch, provider, workspaceId, id, expectedVersion });
      return updated ? asRecord(updated) : null;
    },

    /**
     * The update for a contended row: in one transaction, locks the live row (FOR UPDATE), hands
     * it to `plan` (which checks its rules on it and answers the patch, or throws to change
     * nothing), and writes the patch. No other write can come between the check and the write,
     * so this cannot lose a race; it costs a transaction and holds the lock while `plan` runs,
     * so `plan` must not wait on the network. Null when missing, deleted or foreign.
     */
    updateLocked(
      workspaceId: string,
      id: string,
      plan: (current: RegistryForUse & { provider: ProviderName }) => Promise<RegistryPatch> | RegistryPatch,
    ): Promise<RegistryRecord | null> {
      return db.transaction(async (tx) => {
        const [current] = await tx.select(registryForUseColumns).from(registries).where(live(workspaceId, id)).for("update");
        if (!current) return null;
        const patch = await plan(asRecord(current));
        const provider = patch.server === undefined ? undefined : providerOf(patch.server);
        const [updated] = await buildUpdate(shapeOf(patch), tx).execute({ ...patch, provider, workspaceId, id, expectedVersion: current.version });
        return asRecord(updated!);
      });
    },

    /**
     * The registry with its sealed password, tombstones included, so the point of use can tell
     * "deleted" from "never existed". Decrypt only there.
     */
    async findForUse(workspaceId: string, id: string): Promise<RegistryForUse | null> {
      const [found] = await findForUseQuery.execute({ workspaceId, id });
      return found ? asRecord(found) : null;
    },

    /**
     * Records a login attempt's outcome, only if the credential it checked is still the stored
     * one (same server, username, CA and sealed password): a proof about a credential that was
     * replaced meanwhile must not be shown as the new one's. Null otherwise (or when gone).
     * Does not bump `version` or `updated_at`: no field the user set changed.
     */
    async recordVerification(
      workspaceId: string,
      id: string,
      checked: Pick<RegistryForUse, "server" | "username" | "caCertificate" | "passwordCiphertext">,
      state: VerificationState,
    ): Promise<RegistryRecord | null> {
      // Stryker disable next-line ConditionalExpression: a shortcut; `password_ciphertext = NULL` would match no row either
      if (checked.passwordCiphertext === null) return null;
      const [updated] = await db
        .update(registries)
        .set({
          verificationStatus: state.verificationStatus,
          verificationCheckedAt: state.verificationCheckedAt,
          verificationErrorCode: state.verificationErrorCode,
          verificationDetail: state.verificationDetail,
        })
        .where(
          and(
            live(workspaceId, id),
            eq(registries.server, checked.server),
            eq(registries.username, checked.username),
            checked.caCertificate === null ? isNull(registries.caCertificate) : eq(registries.caCertificate, checked.caCertificate),
            eq(registries.passwordCiphertext, checked.passwordCiphertext),
          ),
        )
        .returning(registryColumns);
      return updated ? asRecord(updated) : null;
    },

    /** Marks the credential used; never moves the timestamp backwards. */
    async touchLastUsed(workspaceId: string, id: string, at: Date): Promise<void> {
      await db
        .update(registries)
        .set({ lastUsedAt: sql`greatest(${registries.lastUsedAt}, ${at.toISOString()}::timestamptz)` })
        .where(live(workspaceId, id));
    },

  };
}
