/**
 * Applies the committed migrations (`packages/server/drizzle/`) at start-up.
 *
 * Several instances may start at once against one PostgreSQL. drizzle's migrator alone races
 * there (each one creates its bookkeeping schema and table, reads the last applied migration,
 * then applies the rest), so the whole run holds a session-level advisory lock: the first
 * instance migrates, the others wait, then find nothing left to do.
 *
 * After the SQL migrations, and under the same lock, rows whose derived columns are still empty
 * are filled by the app's own code (fill-derived-columns.ts): a migration can add a column, but
 * only JS knows how to derive its value.
 */
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { openDedicatedSession, type DatabaseHandle, type DedicatedSession } from "./client.js";
import { fillDerivedColumns } from "./fill-derived-columns.js";

/** Absolute, so migrating works whatever the working directory. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/**
 * Key of the advisory lock that serialises migrations: any constant bigint, chosen so it will
 * not collide with locks that other software on the same database might take.
 */
const MIGRATION_LOCK_KEY = "7321556090485023617";

/**
 * Brings the database schema up to date; safe to call concurrently from several processes.
 * The lock and the migration run on one dedicated connection (a session lock belongs to the
 * connection that took it), which is closed afterwards.
 */
export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  const session = await openDedicatedSession(handle);
  try {
    await withAdvisoryLock(session, async () => {
      await runMigrator(session);
      await fillDerivedColumns(session.db);
    });
  } finally {
    await session.release();
  }
}

async function withAdvisoryLock(session: DedicatedSession, run: () => Promise<void>) {
  // The key is a constant, not input: inlined so that no driver has to bind an int8.
  await session.db.execute(sql.raw(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`));
  try {
    await run();
  } finally {
    // If the connection died, PostgreSQL released the lock with the session; the unlock error
    // must not hide the migration's own error.
    await session.db
      .execute(sql.raw(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`))
      .catch(() => {});
  }
}

function runMigrator(session: DedicatedSession): Promise<void> {
  const config = { migrationsFolder: MIGRATIONS_FOLDER };
  return session.kind === "postgres"
    ? migratePostgres(session.db, config)
    : migratePglite(session.db, config);
}
