/**
 * Rows written with drizzle directly, so a repository's tests depend on no other repository,
 * and the one instant every fixture is created at.
 */
import { getTableColumns, sql, type Column } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { uuidv7 } from "./ids.js";
import { providerOf, referenceOf, registries, sandboxImages, type Db, type NewRegistry, type NewSandboxImage } from "./server.js";

/** The instant fixtures are created and last updated at, unless overridden. */
export const FIXTURE_TIME = new Date("2025-01-02T03:04:05.678Z");

/** A live, enabled ghcr.io registry with a (fake) sealed password unique to it, for a repository's `insert`. */
export function newRegistry(workspaceId: string, overrides: Partial<NewRegistry> = {}): NewRegistry {
  const id = uuidv7();
  return {
    id,
    workspaceId,
    name: `registry-${id}`,
    server: "ghcr.io",
    username: "robot",
    email: "robot@example.com",
    enabled: true,
    passwordCiphertext: `v1:k1:ciphertext-${id}`,
    passwordKeyId: "k1",
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
}

/** What the contract gives a sandbox image for each optional field a create leaves out (but the tag). */
export const IMAGE_DEFAULTS = {
  description: null,
  enabled: true,
  isDefault: false,
  memoryMb: 1024,
  ttlSeconds: null,
  readinessPort: null,
} as const;

/** An enabled, unlinked `ghcr.io/acme/sandbox:latest` with every optional field empty, for a repository's `insert`. */
export function newImage(workspaceId: string, overrides: Partial<NewSandboxImage> = {}): NewSandboxImage {
  const id = uuidv7();
  return {
    id,
    workspaceId,
    name: `image-${id}`,
    image: "ghcr.io/acme/sandbox",
    tag: "latest",
    registryId: null,
    ...IMAGE_DEFAULTS,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
}

/**
 * Inserts `newRegistry(workspaceId)` (no CA) with `overrides`, bypassing the repository; returns
 * the row. Its provider is derived as the repository would, unless `overrides` sets one.
 */
export async function insertRawRegistry(db: Db, workspaceId: string, overrides: Partial<typeof registries.$inferInsert> = {}) {
  const fields = { ...newRegistry(workspaceId), caCertificate: null, ...overrides };
  const row = { provider: providerOf(fields.server), ...fields };
  await insertGivenColumns(db, registries, row);
  return row;
}

/**
 * Inserts an enabled, unlinked sandbox image (link it with `registryId`); returns the row. Its
 * pull reference is derived as the repository would, unless `overrides` sets one.
 */
export async function insertRawImage(db: Db, workspaceId: string, overrides: Partial<typeof sandboxImages.$inferInsert> = {}) {
  const id = uuidv7();
  const row = {
    id,
    workspaceId,
    name: `image-${id}`,
    image: "ghcr.io/acme/sandbox",
    tag: "v1",
    registryId: null,
    enabled: true,
    memoryMb: 1024,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
  await insertGivenColumns(db, sandboxImages, { reference: referenceOf(row.image, row.tag), ...row });
  return row;
}

/**
 * `insert` naming only the columns `row` gives (drizzle's own insert names every column of the
 * schema, so it fails on a database migrated to an older version: the migration tests write
 * rows as an older server stored them). Values are encoded as drizzle encodes them.
 */
async function insertGivenColumns(db: Db, table: PgTable, row: Record<string, unknown>): Promise<void> {
  const columns: Record<string, Column> = getTableColumns(table);
  const fields = Object.keys(row).filter((field) => row[field] !== undefined);
  for (const field of fields) if (!columns[field]) throw new Error(`no column for the fixture field ${field}`);
  await db.execute(sql`insert into ${table} (${sql.join(
    fields.map((field) => sql.identifier(columns[field]!.name)),
    sql`, `,
  )}) values (${sql.join(
    fields.map((field) => sql.param(row[field], columns[field]!)),
    sql`, `,
  )})`);
}
