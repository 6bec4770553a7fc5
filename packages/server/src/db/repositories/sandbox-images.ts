/**
 * Data access for sandbox images. Every method is scoped by workspace in its WHERE.
 * `registryName` comes from a LEFT JOIN in the same query (no N+1); it is null when the image
 * has no registry or the registry was deleted.
 */
import { and, desc, eq, inArray, isNull, lt, ne, sql, type Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "../client.js";
import type {
  NewSandboxImage,
  SandboxImageListQuery,
  SandboxImagePatch,
  SandboxImageRecord,
} from "../records.js";
import { referenceOf } from "../derived-columns.js";
import { registries, sandboxImages } from "../schema.js";
import { boundPlaceholder } from "./bound-placeholder.js";
import { preparedPerFilters } from "./prepared-per-filters.js";

/** The partial unique index behind "one default image per workspace". */
export const SANDBOX_IMAGE_DEFAULT_UNIQUE = "sandbox_images_one_default_key";
/** The composite foreign key (workspace_id, registry_id) → registries: no cross-workspace link. */
export const SANDBOX_IMAGE_REGISTRY_FK = "sandbox_images_registry_fkey";

/**
 * First key of the transaction advisory lock taken while changing a workspace's default image
 * (the second is a hash of the workspace id). Without it, two concurrent "make X the default"
 * would each clear the old default, then one would fail on the unique index.
 */
const DEFAULT_IMAGE_LOCK_CLASS = 730_146_021;

/** The columns of a `SandboxImageRecord` (the registry's name from the join): every read selects this one object. */
export const sandboxImageColumns = {
  id: sandboxImages.id,
  workspaceId: sandboxImages.workspaceId,
  name: sandboxImages.name,
  image: sandboxImages.image,
  tag: sandboxImages.tag,
  reference: sandboxImages.reference,
  registryId: sandboxImages.registryId,
  registryName: registries.name,
  description: sandboxImages.description,
  enabled: sandboxImages.enabled,
  isDefault: sandboxImages.isDefault,
  memoryMb: sandboxImages.memoryMb,
  ttlSeconds: sandboxImages.ttlSeconds,
  readinessPort: sandboxImages.readinessPort,
  createdAt: sandboxImages.createdAt,
  updatedAt: sandboxImages.updatedAt,
  version: sandboxImages.version,
};

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type Queryable = Db | Tx;

/** Thrown inside an image write when its registry was deleted (or never was) meanwhile. */
export class RegistryNotLinkableError extends Error {
  override name = "RegistryNotLinkableError";
}

/**
 * Takes a share lock on the live registry an image is about to link to, so a concurrent delete
 * (which locks the row for update, then counts linked images) either sees this image or runs
 * first and makes this write fail: no image is ever linked to a registry deleted without force.
 */
async function lockLiveRegistry(tx: Tx, workspaceId: string, registryId: string): Promise<void> {
  const [live] = await tx
    .select(
      // Stryker disable next-line ObjectLiteral: only whether a row is found (and locked) is read; PostgreSQL allows an empty select list
      { id: registries.id },
    )
    .from(registries)
    .where(and(eq(registries.workspaceId, workspaceId), eq(registries.id, registryId), isNull(registries.deletedAt)))
    .for("share");
  if (!live) throw new RegistryNotLinkableError("registry is not live in this workspace");
}

/** The live registry of a workspace (id and server), read on `q`; null when missing, deleted or foreign. */
async function findLiveRegistry(q: Queryable, workspaceId: string, registryId: string): Promise<{ id: string; server: string } | null> {
  const [found] = await q
    .select({ id: registries.id, server: registries.server })
    .from(registries)
    .where(and(eq(registries.workspaceId, workspaceId), eq(registries.id, registryId), isNull(registries.deletedAt)));
  return found ?? null;
}

/** The images that use a registry: up to `limit` ids (newest first) and how many there are. */
export async function linkedImages(
  db: Queryable,
  workspaceId: string,
  registryId: string,
  limit: number,
): Promise<{ ids: string[]; count: number }> {
  const linked = and(eq(sandboxImages.workspaceId, workspaceId), eq(sandboxImages.registryId, registryId));
  const rows = await db.select({ id: sandboxImages.id }).from(sandboxImages).where(linked).orderBy(desc(sandboxImages.id)).limit(limit);
  // An aggregate without GROUP BY answers exactly one row.
  const [total] = await db.select({ count: sql<number>`count(*)::int` }).from(sandboxImages).where(linked);
  return { ids: rows.map((r) => r.id), count: Number(total!.count) };
}

/** Images joined to their live registry, so the name comes in the same query. */
function selectRecords(db: Queryable) {
  return db
    .select(sandboxImageColumns)
    .from(sandboxImages)
    .leftJoin(
      registries,
      and(
        eq(registries.workspaceId, sandboxImages.workspaceId),
        eq(registries.id, sandboxImages.registryId),
        isNull(registries.deletedAt),
      ),
    );
}

const byId = (workspaceId: string | Placeholder, id: string | Placeholder) =>
  and(eq(sandboxImages.workspaceId, workspaceId), eq(sandboxImages.id, id));

/**
 * A row read through `sandboxImageColumns` with `reference` non-null, as the record says: the
 * repository writes it with every image and tag, and `migrateDatabase` fills rows written around
 * the app.
 */
function asRecord<T extends { reference: string | null }>(row: T): T & { reference: string } {
  return row as T & { reference: string };
}

/** The record of a row this transaction has just written: it is there. */
async function findWrittenRecord(tx: Tx, workspaceId: string, id: string) {
  const [found] = await selectRecords(tx).where(byId(workspaceId, id));
  return asRecord(found!);
}

/** Serialises default changes in one workspace until the transaction ends. */
async function lockDefault(tx: Tx, workspaceId: string) {
  await tx.execute(
    sql`select pg_advisory_xact_lock(${DEFAULT_IMAGE_LOCK_CLASS}::int4, hashtext(${workspaceId}))`,
  );
}

/**
 * Clears the workspace's default image, except `keepId`; call under `lockDefault`. The old
 * default visibly changed, so its `updatedAt` and `version` move too.
 */
async function clearDefault(tx: Tx, workspaceId: string, keepId: string, at: Date) {
  await tx
    .update(sandboxImages)
    .set({ isDefault: false, updatedAt: at, version: sql`${sandboxImages.version} + 1` })
    .where(
      and(
        eq(sandboxImages.workspaceId, workspaceId),
        eq(sandboxImages.isDefault, true),
        ne(sandboxImages.id, keepId),
      ),
    );
}

/** Every column an insert writes, in the table's order, as a placeholder named after its field. */
function insertValues() {
  return {
    id: boundPlaceholder("id", sandboxImages.id, "uuid"),
    workspaceId: boundPlaceholder("workspaceId", sandboxImages.workspaceId, "text"),
    name: boundPlaceholder("name", sandboxImages.name, "text"),
    image: boundPlaceholder("image", sandboxImages.image, "text"),
    tag: boundPlaceholder("tag", sandboxImages.tag, "text"),
    reference: boundPlaceholder("reference", sandboxImages.reference, "text"),
    registryId: boundPlaceholder("registryId", sandboxImages.registryId, "uuid"),
    description: boundPlaceholder("description", sandboxImages.description, "text"),
    enabled: boundPlaceholder("enabled", sandboxImages.enabled, "boolean"),
    isDefault: boundPlaceholder("isDefault", sandboxImages.isDefault, "boolean"),
    memoryMb: boundPlaceholder("memoryMb", sandboxImages.memoryMb, "int4"),
    ttlSeconds: boundPlaceholder("ttlSeconds", sandboxImages.ttlSeconds, "int4"),
    readinessPort: boundPlaceholder("readinessPort", sandboxImages.readinessPort, "int4"),
    createdAt: boundPlaceholder("createdAt", sandboxImages.createdAt, "timestamptz"),
    updatedAt: boundPlaceholder("updatedAt", sandboxImages.updatedAt, "timestamptz"),
  };
}

/** Each field aliased as its key (drizzle wants SELECT fields of raw SQL named). */
function aliased<T extends Record<string, SQL>>(fields: T): { [K in keyof T]: SQL.Aliased } {
  const out: Record<string, SQL.Aliased> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value.as(key);
  return out as { [K in keyof T]: SQL.Aliased };
}

/**
 * The insert of an image with no registry: `insert … values (…)`, `version` left to its default.
 * Every value is a placeholder (the fields of `NewSandboxImage` and its `reference`).
 */
function buildInsertUnlinked(q: Queryable) {
  return q.insert(sandboxImages).values(insertValues());
}

/**
 * The insert of an image linked to a registry, in one statement. Every value is a placeholder
 * (the fields of `NewSandboxImage` and its `reference`); it answers the registry's name, or no row.
 *
 * The same guarantee as `lockLiveRegistry`: the first CTE share-locks the live registry row, and
 * the INSERT selects from it, so it inserts nothing unless the lock was taken on a live row in
 * the image's workspace. A single statement is its own transaction, so the lock is held until the
 * row is committed, exactly as in a transaction: a concurrent delete (which locks the row for
 * update, then counts linked images) either sees this image, or commits first and this
 * statement, re-checking the row after waiting on its lock (READ COMMITTED), finds it deleted,
 * inserts nothing, and answers no row.
 *
 *   with "reg" as (select "name" from "registries" where … and "deleted_at" is null for share),
 *        "ins" as (insert into "sandbox_images" (…) select $1::uuid, … from "reg" returning "id")
 *   select "reg"."name" from "reg" cross join "ins"
 */
function buildInsertLinked(q: Queryable) {
  const reg = q.$with("reg").as(
    q
      .select({ name: registries.name })
      .from(registries)
      .where(
        and(
          eq(registries.workspaceId, sql.placeholder("workspaceId")),
          eq(registries.id, sql.placeholder("registryId")),
          isNull(registries.deletedAt),
        ),
      )
      .for("share"),
  );
  const { createdAt, updatedAt, ...values } = insertValues();
  // An INSERT … SELECT names every column, in the table's order: `version` is written as its
  // column default (1, schema.ts), which the VALUES form leaves to the database.
  const selected = aliased({ ...values, version: sql`1`, createdAt, updatedAt });
  const ins = q.$with("ins").as(
    q.insert(sandboxImages).select(q.select(selected).from(reg)).returning({ id: sandboxImages.id }),
  );
  return q.with(reg, ins).select({ registryName: reg.name }).from(reg).crossJoin(ins);
}

/** The row as written (every column is one we set; `version` starts at 1), with the registry name read under the lock. */
function recordOf(row: NewSandboxImage & { reference: string }, registryName: string | null): SandboxImageRecord {
  return { ...row, registryName, version: 1 };
}

interface InsertStatements {
  unlinked: { execute(values: Record<string, unknown>): Promise<unknown> };
  linked: { execute(values: Record<string, unknown>): Promise<{ registryName: string }[]> };
}

/**
 * Inserts an image in one statement: `statements` are prepared on `db`, or (inside the default
 * case's transaction) built on the transaction, unprepared. A registry that is not live in the
 * image's workspace throws `RegistryNotLinkableError`, and nothing is written.
 */
async function insertOne(statements: InsertStatements, row: NewSandboxImage): Promise<SandboxImageRecord> {
  // The placeholders are named after the row's fields (insertValues); a statement binds only those.
  const written = { ...row, reference: referenceOf(row.image, row.tag) };
  const params: Record<string, unknown> = written;
  if (row.registryId === null) {
    await statements.unlinked.execute(params);
    return recordOf(written, null);
  }
  const [linked] = await statements.linked.execute(params);
  if (!linked) throw new RegistryNotLinkableError("registry is not live in this workspace");
  return recordOf(written, linked.registryName);
}

/**
 * The write of an update, inside its transaction (the default lock already held when the patch
 * makes this the default): clears the old default, share-locks the registry it links to, then
 * writes the row at `version`. Null when the row is not at that version.
 */
async function writeUpdate(
  tx: Tx,
  workspaceId: string,
  id: string,
  version: number,
  patch: SandboxImagePatch,
): Promise<SandboxImageRecord | null> {
  if (patch.isDefault === true) await clearDefault(tx, workspaceId, id, patch.updatedAt);
  if (patch.registryId) await lockLiveRegistry(tx, workspaceId, patch.registryId);
  const updated = await tx
    .update(sandboxImages)
    .set({
      // Listed one by one so that nothing but these columns can ever be written.
      name: patch.name,
      image: patch.image,
      tag: patch.tag,
      reference: patch.image === undefined ? undefined : referenceOf(patch.image, patch.tag),
      registryId: patch.registryId,
      description: patch.description,
      enabled: patch.enabled,
      isDefault: patch.isDefault,
      memoryMb: patch.memoryMb,
      ttlSeconds: patch.ttlSeconds,
      readinessPort: patch.readinessPort,
      updatedAt: patch.updatedAt,
      version: sql`${sandboxImages.version} + 1`,
    })
    .where(and(byId(workspaceId, id), eq(sandboxImages.version, version)))
    .returning({ id: sandboxImages.id });
  return updated.length > 0 ? findWrittenRecord(tx, workspaceId, id) : null;
}

export type SandboxImageRepository = ReturnType<typeof createSandboxImageRepository>;

export function createSandboxImageRepository(db: Db) {
  // The hot reads, built once (named prepared statements on PostgreSQL; see registries.ts).
  // Reads inside a transaction stay unprepared: a statement built on `db` would run outside it.
  const findByIdQuery = selectRecords(db)
    .where(byId(sql.placeholder("workspaceId"), sql.placeholder("id")))
    .prepare(
      // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
      "sandbox_images_find_by_id",
    );
  /** One statement per combination of list filters (registry, enabled, cursor), built on first use. */
  const listQuery = preparedPerFilters(([registry, enabled, cursor]) =>
    selectRecords(db)
      .where(
        and(
          eq(sandboxImages.workspaceId, sql.placeholder("workspaceId")),
          registry ? eq(sandboxImages.registryId, sql.placeholder("registryId")) : undefined,
          enabled ? eq(sandboxImages.enabled, sql.placeholder("enabled")) : undefined,
          cursor ? lt(sandboxImages.id, sql.placeholder("beforeId")) : undefined,
        ),
      )
      .orderBy(desc(sandboxImages.id))
      .limit(sql.placeholder("limit"))
      .prepare(
        // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
        `sandbox_images_list_${Number(registry)}${Number(enabled)}${Number(cursor)}`,
      ),
  );
  // The inserts of the common, non-default image, built once and prepared. The default case
  // builds the same statements on its transaction (a statement prepared on `db` would run
  // outside it).
  const prepared: InsertStatements = {
    // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
    unlinked: buildInsertUnlinked(db).prepare("sandbox_images_insert_unlinked"),
    // Stryker disable next-line StringLiteral: a statement's name is never sent: drizzle's postgres-js session only asks postgres.js to prepare (it names statements by their SQL), PGlite ignores it
    linked: buildInsertLinked(db).prepare("sandbox_images_insert_linked"),
  };

  return {
    /**
     * Inserts an image; with `isDefault` it first replaces the workspace's default, in one
     * transaction. A registry that is not live in this workspace throws `RegistryNotLinkableError`.
     */
    insert(row: NewSandboxImage): Promise<SandboxImageRecord> {
      if (!row.isDefault) return insertOne(prepared, row);
      return db.transaction(async (tx) => {
        await lockDefault(tx, row.workspaceId);
        await clearDefault(tx, row.workspaceId, row.id, row.updatedAt);
        return insertOne(
          {
            unlinked: { execute: (values) => buildInsertUnlinked(tx).execute(values) },
            linked: { execute: (values) => buildInsertLinked(tx).execute(values) },
          },
          row,
        );
      });
    },

    /** The image, or null when missing or in another workspace. */
    async findById(workspaceId: string, id: string): Promise<SandboxImageRecord | null> {
      const [found] = await findByIdQuery.execute({ workspaceId, id });
      return found ? asRecord(found) : null;
    },

    /** Newest first; `beforeId` continues after the last id of the previous page. */
    async list(workspaceId: string, q: SandboxImageListQuery): Promise<SandboxImageRecord[]> {
      const query = listQuery([q.registryId !== undefined, q.enabled !== undefined, q.beforeId !== undefined]);
      const rows = await query.execute({
        workspaceId,
        registryId: q.registryId,
        enabled: q.enabled,
        beforeId: q.beforeId,
        limit: q.limit,
      });
      return rows.map(asRecord);
    },

    /**
     * Changes the given fields and bumps `version`, only if the row is still at `expectedVersion`
     * (compare-and-set: the caller checked its rules against that version). Null, and nothing
     * changed, when the row moved on or is missing or foreign: the caller reads it again to tell
     * which. `isDefault: true` replaces the workspace's default in the same transaction.
     */
    update(workspaceId: string, id: string, expectedVersion: number, patch: SandboxImagePatch): Promise<SandboxImageRecord | null> {
      return db.transaction(async (tx) => {
        if (patch.isDefault === true) {
          // The workspace lock first, then the row (one order everywhere: no deadlock). The row
          // is checked before clearing so that the old default stays when this one is missing
          // or has moved on.
          await lockDefault(tx, workspaceId);
          const [target] = await tx
            .select(
              // Stryker disable next-line ObjectLiteral: only whether a row is found (and locked) is read; PostgreSQL allows an empty select list
              { id: sandboxImages.id },
            )
            .from(sandboxImages)
            .where(and(byId(workspaceId, id), eq(sandboxImages.version, expectedVersion)))
            .for("update");
          if (!target) return null;
        }
        return writeUpdate(tx, workspaceId, id, expectedVersion, patch);
      });
    },

    /**
     * The update for a contended row: in one transaction, locks the row (FOR UPDATE; the
     * workspace's default lock first when `takesDefault`, in the order `update` takes them),
     * hands it to `plan` (which checks its rules on it and answers the patch, or throws to
     * change nothing), and writes the patch. It cannot lose a race; `plan` runs under the lock.
     * Null when missing or foreign.
     */
    updateLocked(
      workspaceId: string,
      id: string,
      takesDefault: boolean,
      plan: (
        current: SandboxImageRecord,
        findRegistry: (workspaceId: string, registryId: string) => Promise<{ id: string; server: string } | null>,
      ) => Promise<SandboxImagePatch>,
    ): Promise<SandboxImageRecord | null> {
      return db.transaction(async (tx) => {
        if (takesDefault) await lockDefault(tx, workspaceId);
        // FOR UPDATE OF the image only: the registry is on the nullable side of the join.
        const [current] = await selectRecords(tx).where(byId(workspaceId, id)).for("update", { of: sandboxImages });
        if (!current) return null;
        // Reads the plan makes go through this transaction: one from the pool could wait for a
        // connection held by a locked writer waiting on this row (five of them stall the pool).
        const patch = await plan(asRecord(current), (ws, registryId) => findLiveRegistry(tx, ws, registryId));
        if (patch.isDefault === true && !takesDefault) await lockDefault(tx, workspaceId);
        return writeUpdate(tx, workspaceId, id, current.version, patch);
      });
    },

    /**
     * Deletes the image; false when missing or foreign, or (with `versions`) when it is at none
     * of them: the caller reads it again to tell which.
     */
    async delete(workspaceId: string, id: string, versions?: readonly number[]): Promise<boolean> {
      const deleted = await db
        .delete(sandboxImages)
        .where(and(byId(workspaceId, id), versions === undefined ? undefined : inArray(sandboxImages.version, [...versions])))
        .returning({ id: sandboxImages.id });
      return deleted.length > 0;
    },
  };
}
