/**
 * Fresh, migrated databases on every available backend. PGlite (in-memory) always; PostgreSQL
 * too when one is available: the root global setup's server (`inject("postgresUrl")`, see
 * test/global-setup.ts) or, when a package's tests run without it, `DATABASE_URL`.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { inject } from "vitest";
import { migratedPgliteDump, migratedPostgresTemplate } from "./migrated-databases.js";
import { createPostgresTestDatabase } from "./postgres.js";
import { migrateDatabase, MIGRATIONS_FOLDER, openDatabase, openDedicatedSession, type DatabaseHandle } from "./server.js";
import "./provided-context.js";

export type Backend = "pglite" | "postgres";

/** Superuser URL of the PostgreSQL server to create test databases on; undefined: none. */
export const postgresAdminUrl: string | undefined =
  inject("postgresUrl") ?? process.env.DATABASE_URL ?? undefined;

/**
 * The backends to run database and app tests on, for `describe.each`: PGlite, and PostgreSQL when
 * there is one. `MODBOX_TEST_BACKENDS=postgres` narrows it for the mutation run, where a PGlite
 * database (~1 s per test file, against ~0.1 s on PostgreSQL) is paid again for every mutant
 * (packages/server/vitest.mutation.config.ts).
 */
export const backends: Backend[] = selectBackends(postgresAdminUrl ? ["pglite", "postgres"] : ["pglite"], process.env.MODBOX_TEST_BACKENDS);

function selectBackends(available: Backend[], wanted: string | undefined): Backend[] {
  if (wanted === undefined || wanted === "") return available;
  const names = wanted.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !available.includes(name as Backend));
  if (unknown.length > 0) throw new Error(`MODBOX_TEST_BACKENDS names ${unknown.join(", ")}, not among the available backends (${available.join(", ")})`);
  return available.filter((backend) => names.includes(backend));
}

export interface TestDatabase {
  handle: DatabaseHandle;
  /** Closes the handle and, on PostgreSQL, drops the database. */
  dispose(): Promise<void>;
}

/**
 * A fresh migrated database: a copy of one migrated once per run (migrated-databases.ts), then
 * `migrateDatabase` as a start would run it, which finds nothing left to do. Create one per test
 * file, in `beforeAll`.
 * `maxConnections` sizes the PostgreSQL pool (a test that reads per-connection state wants 1).
 */
export async function createTestDatabase(backend: Backend, options: { maxConnections?: number } = {}): Promise<TestDatabase> {
  if (backend === "pglite") {
    const handle = await openDatabase({ kind: "pglite", loadDataDir: await migratedPgliteDump() });
    await migrateDatabase(handle);
    return { handle, dispose: () => handle.close() };
  }
  const adminUrl = requirePostgresAdminUrl();
  const fresh = await createPostgresTestDatabase(adminUrl, { template: await migratedPostgresTemplate(adminUrl) });
  const handle = await openDatabase({ kind: "postgres", url: fresh.url, ...options });
  const dispose = async () => {
    await handle.close();
    await fresh.drop();
  };
  try {
    await migrateDatabase(handle);
  } catch (err) {
    await dispose();
    throw err;
  }
  return { handle, dispose };
}

/**
 * A fresh database migrated up to, not including, the committed migration `tag` (and without
 * the derived-column fill of a start): the schema as an older server left it, for a migration's
 * own test, which then writes rows as that server stored them and runs `migrateDatabase`.
 */
export async function createTestDatabaseBefore(
  backend: Backend,
  tag: string,
  options: { encoding?: "SQL_ASCII" } = {},
): Promise<TestDatabase> {
  const folder = await mkdtemp(join(tmpdir(), "modbox-migrations-"));
  let handle: DatabaseHandle | undefined;
  let drop = async () => {};
  try {
    await cp(MIGRATIONS_FOLDER, folder, { recursive: true });
    const journalPath = join(folder, "meta", "_journal.json");
    const journal = JSON.parse(await readFile(journalPath, "utf8")) as { entries: Array<{ idx: number; tag: string }> };
    const at = journal.entries.findIndex((e) => e.tag === tag);
    if (at <= 0) throw new Error(`migration ${tag} is not in the journal (or is the first one)`);
    journal.entries = journal.entries.slice(0, at);
    await writeFile(journalPath, JSON.stringify(journal));

    if (backend === "pglite") {
      handle = await openDatabase({ kind: "pglite" });
    } else {
      const fresh = await createPostgresTestDatabase(requirePostgresAdminUrl(), options);
      handle = await openDatabase({ kind: "postgres", url: fresh.url });
      drop = fresh.drop;
    }
    const session = await openDedicatedSession(handle);
    try {
      if (session.kind === "postgres") await migratePostgres(session.db, { migrationsFolder: folder });
      else await migratePglite(session.db, { migrationsFolder: folder });
    } finally {
      await session.release();
    }
  } catch (err) {
    await handle?.close();
    await drop();
    throw err;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  const opened = handle;
  return {
    handle: opened,
    dispose: async () => {
      await opened.close();
      await drop();
    },
  };
}

export function requirePostgresAdminUrl(): string {
  if (!postgresAdminUrl) throw new Error("no PostgreSQL for tests: set DATABASE_URL");
  return postgresAdminUrl;
}

/** Rows of `db.execute()` on either driver: postgres.js answers an array, PGlite `{ rows }`. */
export function rowsOf(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  const rows = (result as { rows?: unknown }).rows;
  if (Array.isArray(rows)) return rows as Array<Record<string, unknown>>;
  throw new Error("db.execute() answered neither an array nor { rows }");
}
