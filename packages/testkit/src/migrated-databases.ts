/**
 * Migrated databases made once and copied: running the twelve migrations for every test database
 * costs ~4 s on PGlite and ~200 ms on PostgreSQL, which the suite pays hundreds of times and the
 * mutation run (MUTATION.md) pays again for every mutant whose tests open a database.
 *
 * Both copies are named after a fingerprint of the migration files, so a changed or added
 * migration makes a new one instead of reusing a stale one (in a long-lived temp dir, or on a
 * long-lived DATABASE_URL server), and both are written whole before anyone can read them.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { createPostgresTestDatabase, withAdmin } from "./postgres.js";
import { migrateDatabase, MIGRATIONS_FOLDER, openDatabase } from "./server.js";

/**
 * A dump of a migrated PGlite, to pass as `loadDataDir` (well under a second to load). Shared by
 * every test file through a temp file, written atomically so parallel workers never read half of one.
 */
export async function migratedPgliteDump(): Promise<Blob> {
  const file = join(tmpdir(), `modbox-pglite-${migrationsFingerprint()}.tar.gz`);
  try {
    return new Blob([new Uint8Array(await readFile(file))]);
  } catch {
    const fresh = await openDatabase({ kind: "pglite" });
    await migrateDatabase(fresh);
    const dump = await fresh.dumpDataDir!();
    await fresh.close();
    const partial = `${file}.${process.pid}.${Date.now()}`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
    return dump;
  }
}

/** Any constant bigint; distinct from the server's own migration lock key. */
const TEMPLATE_LOCK_KEY = "4983261775020469183";

const templates = new Map<string, Promise<string>>();

/**
 * The name of a migrated template database on the PostgreSQL server at `adminUrl`, built on first
 * use, for `createPostgresTestDatabase(adminUrl, { template })` (a file copy, ~50 ms). It is built
 * under another name and renamed when complete, under an advisory lock, so parallel workers build
 * it once and never copy a half-migrated one.
 */
export function migratedPostgresTemplate(adminUrl: string): Promise<string> {
  let template = templates.get(adminUrl);
  if (!template) {
    template = buildTemplateOnce(adminUrl, `modbox_template_${migrationsFingerprint()}`);
    // A failed build (e.g. a broken migration) is reported to every caller, then retried by the next file.
    template.catch(() => templates.delete(adminUrl));
    templates.set(adminUrl, template);
  }
  return template;
}

async function buildTemplateOnce(adminUrl: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await admin.unsafe(`select pg_advisory_lock(${TEMPLATE_LOCK_KEY})`);
    try {
      const [found] = await admin`select 1 from pg_database where datname = ${name}`;
      if (!found) await build(adminUrl, name);
    } finally {
      await admin.unsafe(`select pg_advisory_unlock(${TEMPLATE_LOCK_KEY})`).catch(() => {});
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
  return name;
}

async function build(adminUrl: string, name: string) {
  const building = await createPostgresTestDatabase(adminUrl);
  try {
    const handle = await openDatabase({ kind: "postgres", url: building.url });
    try {
      await migrateDatabase(handle);
    } finally {
      await handle.close();
    }
    await withAdmin(adminUrl, (sql) => sql`ALTER DATABASE ${sql(building.name)} RENAME TO ${sql(name)}`);
  } catch (err) {
    await building.drop();
    throw err;
  }
}

/** sha256 of the migration files (names and contents, in name order), 16 hex digits. */
function migrationsFingerprint(): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(entry.name).update(readFileSync(path));
    }
  };
  walk(MIGRATIONS_FOLDER);
  return hash.digest("hex").slice(0, 16);
}
