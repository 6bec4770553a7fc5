/**
 * Fresh, migrated databases on every available backend. PGlite (in-memory) always; PostgreSQL
 * too when one is available: the root global setup's server (`inject("postgresUrl")`, see
 * test/global-setup.ts) or, when a package's tests run without it, `DATABASE_URL`.
 */
import { inject } from "vitest";
import { createPostgresTestDatabase } from "./postgres.js";
import { migrateDatabase, openDatabase, type DatabaseHandle } from "./server.js";
import "./provided-context.js";

export type Backend = "pglite" | "postgres";

/** Superuser URL of the PostgreSQL server to create test databases on; undefined: none. */
export const postgresAdminUrl: string | undefined =
  inject("postgresUrl") ?? process.env.DATABASE_URL ?? undefined;

/** The backends to run database and app tests on, for `describe.each`: PGlite, and PostgreSQL when there is one. */
export const backends: Backend[] = postgresAdminUrl ? ["pglite", "postgres"] : ["pglite"];

export interface TestDatabase {
  handle: DatabaseHandle;
  /** Closes the handle and, on PostgreSQL, drops the database. */
  dispose(): Promise<void>;
}

/**
 * A fresh migrated database. PGlite takes ~4 s: create one per test file, in `beforeAll`.
 * `maxConnections` sizes the PostgreSQL pool (a test that reads per-connection state wants 1).
 */
export async function createTestDatabase(backend: Backend, options: { maxConnections?: number } = {}): Promise<TestDatabase> {
  if (backend === "pglite") {
    const handle = await openDatabase({ kind: "pglite" });
    await migrateDatabase(handle);
    return { handle, dispose: () => handle.close() };
  }
  const fresh = await createPostgresTestDatabase(requirePostgresAdminUrl());
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
