/**
 * Data access for registries. Every method is scoped by workspace in its WHERE; a deleted
 * registry (a tombstone kept for linked images) is invisible here. The ciphertext is written
 * by insert/update and read only where it is used: `findForUse` here (verification, provider
 * re-checks) and the joined read of `pull-resolution.ts` (pull checks and credentials).
 */
import { and, desc, eq, isNull, lt, sql, type Column, type Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "../client.js";
import type {
  NewRegistry,
  RegistryForUse,
  RegistryListQuery,
  RegistryPatch,
  RegistryRecord,
  VerificationState,
} from "../records.js";
import { registries } from "../schema.js";
import { boundPlaceholder } from "./bound-placeholder.js";
import { linkedImages } from "./sandbox-images.js";

/**
 * The unique index behind "one live registry per name per workspace": a unique violation
 * naming it means the name is taken (409).
 */
export const REGISTRY_NAME_UNIQUE = "registries_workspace_name_live_key";

/** The columns of a `RegistryRecord`; deliberately not the ciphertext or its key id. */
const recordColumns = {
  id: registries.id,
  workspaceId: registries.workspaceId,
  name: registries.name,
  server: registries.server,
  username: registries.username,
  email: registries.email,
  enabled: registries.enabled,
  caCertificate: registries.caCertificate,
  warnings: registries.warnings,
  verificationStatus: registries.verificationStatus,
  verificationCheckedAt: registries.verificationCheckedAt,
  verificationErrorCode: registries.verificationErrorCode,
  lastUsedAt: registries.lastUsedAt,
  createdAt: registries.createdAt,
  updatedAt: registries.updatedAt,
};

/**
 * The columns `update` may write, in a fixed order: bit i of a patch's shape is `patchColumns[i]`.
 * Listed one by one so that nothing but these columns can ever be written (`updatedAt` is always
 * set, and `version` always bumped, outside this list).
 */
const patchColumns = [
  ["name", registries.name],
  ["server", registries.server],
  ["username", registries.username],
  ["email", registries.email],
  ["enabled", registries.enabled],
  ["caCertificate", registries.caCertificate],
  ["warnings", registries.warnings],
  ["verificationStatus", registries.verificationStatus],
  ["verificationCheckedAt", registries.verificationCheckedAt],
  ["verificationErrorCode", registries.verificationErrorCode],
  ["passwordCiphertext", registries.passwordCiphertext],
  ["passwordKeyId", registries.passwordKeyId],
] as const satisfies readonly (readonly [Exclude<keyof RegistryPatch, "updatedAt">, Column])[];

/**
 * How many update shapes (sets of patch fields) get a prepared statement; the service sends a
 * handful. Any other shape runs as an ordinary (unnamed) statement, so a caller varying its
 * fields cannot pile up statements on every PostgreSQL connection.
 */
const MAX_PREPARED_UPDATE_SHAPES = 32;

export type RegistryRepository = ReturnType<typeof createRegistryRepository>;

export function createRegistryRepository(db: Db) {
  const live = (workspaceId: string | Placeholder, id: string | Placeholder) =>
    and(eq(registries.workspaceId, workspaceId), eq(registries.id, id), isNull(registries.deletedAt));

  // The hot reads, built once: drizzle skips building the SQL on every call, and postgres.js
  // runs them as named prepared statements (PostgreSQL parses and plans them once per
  // connection). PGlite runs the same statements through its own query path.
  const findByIdQuery = db
    .select(recordColumns)
    .from(registries)
    .where(live(sql.placeholder("workspaceId"), sql.placeholder("id")))
    .prepare("registries_find_by_id");
  const findForUseQuery = db
    .select({ ...recordColumns, deletedAt: registries.deletedAt, passwordCiphertext: registries.passwordCiphertext })
    .from(registries)
    .where(and(eq(registries.workspaceId, sql.placeholder("workspaceId")), eq(registries.id, sql.placeholder("id"))))
    .prepare("registries_find_for_use");
  /** One statement per combination of list filters (server, enabled, cursor), built on first use. */
  const listQueries = new Map<number, ReturnType<typeof prepareList>>();
  function prepareList(server: boolean, enabled: boolean, cursor: boolean) {
    return db
      .select(recordColumns)
      .from(registries)
      .where(
        and(
          eq(registries.workspaceId, sql.placeholder("workspaceId")),
          isNull(registries.deletedAt),
          server ? eq(registries.server, sql.placeholder("server")) : undefined,
          enabled ? eq(registries.enabled, sql.placeholder("enabled")) : undefined,
          cursor ? lt(registries.id, sql.placeholder("beforeId")) : undefined,
        ),
      )
      .orderBy(desc(registries.id))
      .limit(sql.placeholder("limit"))
      .prepare(`registries_list_${Number(server)}${Number(enabled)}${Number(cursor)}`);
  }

  // The writes of create and rotate, built once too. Every value is a placeholder.
  const insertQuery = db
    .insert(registries)
    .values({
      id: boundPlaceholder("id", registries.id),
      workspaceId: boundPlaceholder("workspaceId", registries.workspaceId),
      name: boundPlaceholder("name", registries.name),
      server: boundPlaceholder("server", registries.server),
      username: boundPlaceholder("username", registries.username),
      email: boundPlaceholder("email", registries.email),
      enabled: boundPlaceholder("enabled", registries.enabled),
      caCertificate: boundPlaceholder("caCertificate", registries.caCertificate),
      warnings: boundPlaceholder("warnings", registries.warnings),
      verificationStatus: boundPlaceholder("verificationStatus", registries.verificationStatus),
      verificationCheckedAt: boundPlaceholder("verificationCheckedAt", registries.verificationCheckedAt),
      verificationErrorCode: boundPlaceholder("verificationErrorCode", registries.verificationErrorCode),
      lastUsedAt: boundPlaceholder("lastUsedAt", registries.lastUsedAt),
      passwordCiphertext: boundPlaceholder("passwordCiphertext", registries.passwordCiphertext),
      passwordKeyId: boundPlaceholder("passwordKeyId", registries.passwordKeyId),
      createdAt: boundPlaceholder("createdAt", registries.createdAt),
      updatedAt: boundPlaceholder("updatedAt", registries.updatedAt),
    })
    .returning(recordColumns)
    .prepare("registries_insert");

  /**
   * The UPDATE for one shape of patch: bit i set when `patchColumns[i]` is defined in it. As with
   * drizzle's `set()`, an undefined field is left out and a null one writes NULL.
   */
  function buildUpdate(shape: number) {
    const set: Record<string, SQL> = {};
    patchColumns.forEach(([key, column], i) => {
      if (shape & (1 << i)) set[key] = boundPlaceholder(key, column);
    });
    return db
      .update(registries)
      .set({ ...set, updatedAt: boundPlaceholder("updatedAt", registries.updatedAt), version: sql`${registries.version} + 1` })
      .where(live(sql.placeholder("workspaceId"), sql.placeholder("id")))
      .returning(recordColumns);
  }
  const updateQueries = new Map<number, ReturnType<ReturnType<typeof buildUpdate>["prepare"]>>();

  const recordVerificationQuery = db
    .update(registries)
    .set({
      verificationStatus: boundPlaceholder("verificationStatus", registries.verificationStatus),
      verificationCheckedAt: boundPlaceholder("verificationCheckedAt", registries.verificationCheckedAt),
      verificationErrorCode: boundPlaceholder("verificationErrorCode", registries.verificationErrorCode),
    })
    .where(live(sql.placeholder("workspaceId"), sql.placeholder("id")))
    .returning(recordColumns)
    .prepare("registries_record_verification");

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
    options: { force: boolean; listLimit: number },
  ): Promise<{ outcome: "deleted" | "not_found" } | { outcome: "in_use"; ids: string[]; count: number }> {
    return db.transaction(async (tx) => {
      const [target] = await tx.select({ id: registries.id }).from(registries).where(live(workspaceId, id)).for("update");
      if (!target) return { outcome: "not_found" as const };
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
      const [created] = await insertQuery.execute({
        id: row.id,
        workspaceId: row.workspaceId,
        name: row.name,
        server: row.server,
        username: row.username,
        email: row.email,
        enabled: row.enabled,
        caCertificate: row.caCertificate ?? null,
        warnings: row.warnings ?? [],
        verificationStatus: row.verificationStatus ?? "unverified",
        verificationCheckedAt: row.verificationCheckedAt ?? null,
        verificationErrorCode: row.verificationErrorCode ?? null,
        lastUsedAt: row.lastUsedAt ?? null,
        passwordCiphertext: row.passwordCiphertext,
        passwordKeyId: row.passwordKeyId,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
      });
      return created!;
    },

    /** The registry, or null when missing, deleted, or in another workspace. */
    async findById(workspaceId: string, id: string): Promise<RegistryRecord | null> {
      const [found] = await findByIdQuery.execute({ workspaceId, id });
      return found ?? null;
    },

    /** Newest first; `beforeId` continues after the last id of the previous page. */
    list(workspaceId: string, q: RegistryListQuery): Promise<RegistryRecord[]> {
      const server = q.server !== undefined;
      const enabled = q.enabled !== undefined;
      const cursor = q.beforeId !== undefined;
      const key = (Number(server) << 2) | (Number(enabled) << 1) | Number(cursor);
      let query = listQueries.get(key);
      if (query === undefined) {
        query = prepareList(server, enabled, cursor);
        listQueries.set(key, query);
      }
      return query.execute({ workspaceId, server: q.server, enabled: q.enabled, beforeId: q.beforeId, limit: q.limit });
    },

    /**
     * Changes the given fields and bumps `version`; null when missing, deleted or foreign. One
     * prepared statement per shape of patch, built on first use (up to `MAX_PREPARED_UPDATE_SHAPES`).
     */
    async update(workspaceId: string, id: string, patch: RegistryPatch): Promise<RegistryRecord | null> {
      let shape = 0;
      patchColumns.forEach(([key], i) => {
        if (patch[key] !== undefined) shape |= 1 << i;
      });
      let query = updateQueries.get(shape);
      if (query === undefined && updateQueries.size < MAX_PREPARED_UPDATE_SHAPES) {
        query = buildUpdate(shape).prepare(`registries_update_${shape}`);
        updateQueries.set(shape, query);
      }
      const values = { ...patch, workspaceId, id };
      const [updated] = await (query ?? buildUpdate(shape)).execute(values);
      return updated ?? null;
    },

    /**
     * The registry with its sealed password, tombstones included, so the point of use can tell
     * "deleted" from "never existed". Decrypt only there.
     */
    async findForUse(workspaceId: string, id: string): Promise<RegistryForUse | null> {
      const [found] = await findForUseQuery.execute({ workspaceId, id });
      return found ?? null;
    },

    /** Records a login attempt's outcome. Does not bump `version` or `updated_at`: no field the user set changed. */
    async recordVerification(workspaceId: string, id: string, state: VerificationState): Promise<RegistryRecord | null> {
      const [updated] = await recordVerificationQuery.execute({
        verificationStatus: state.verificationStatus,
        verificationCheckedAt: state.verificationCheckedAt,
        verificationErrorCode: state.verificationErrorCode,
        workspaceId,
        id,
      });
      return updated ?? null;
    },

    /** Marks the credential used; never moves the timestamp backwards. */
    async touchLastUsed(workspaceId: string, id: string, at: Date): Promise<void> {
      await db
        .update(registries)
        .set({ lastUsedAt: sql`greatest(${registries.lastUsedAt}, ${at.toISOString()}::timestamptz)` })
        .where(live(workspaceId, id));
    },

    /**
     * Marks the registry deleted (linked images or not) and destroys its credential; the name is
     * free again at once. False when missing, already deleted or foreign.
     */
    async softDelete(workspaceId: string, id: string, at: Date): Promise<boolean> {
      const result = await softDeleteUnlessLinked(workspaceId, id, at, { force: true, listLimit: 0 });
      return result.outcome === "deleted";
    },
  };
}
