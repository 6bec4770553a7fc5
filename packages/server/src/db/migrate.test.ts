import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { sql, type SQL } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { postgresAdminUrl, requirePostgresAdminUrl } from "@modbox/testkit/databases";
import { createPostgresTestDatabase } from "@modbox/testkit/postgres";
import { openDatabase, type DatabaseHandle } from "./client.js";
import { migrateDatabase, MIGRATIONS_FOLDER } from "./migrate.js";

/** Rows of a raw query: `execute` answers an array on postgres.js and `{ rows }` on PGlite. */
async function query(handle: DatabaseHandle, q: SQL): Promise<unknown[]> {
  const result = (await handle.db.execute(q)) as unknown;
  return Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
}

async function journalLength(): Promise<number> {
  const journal = JSON.parse(await readFile(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8"));
  return journal.entries.length;
}

describe("migrateDatabase on PGlite", () => {
  it("creates the tables and is a no-op the second time", async () => {
    const handle = await openDatabase({ kind: "pglite" });
    try {
      await migrateDatabase(handle);
      await migrateDatabase(handle);

      expect(await query(handle, sql`select hash from drizzle.__drizzle_migrations`)).toHaveLength(
        await journalLength(),
      );
      const tables = await query(
        handle,
        sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(tables).toEqual([
        { table_name: "api_tokens" },
        { table_name: "encryption_keys" },
        { table_name: "idempotency_keys" },
        { table_name: "pull_credential_events" },
        { table_name: "registries" },
        { table_name: "sandbox_images" },
      ]);
    } finally {
      await handle.close();
    }
  });
});

describe.skipIf(!postgresAdminUrl)("migrateDatabase on PostgreSQL", () => {
  // Each round is three "instances" (their own pools) starting at once on one empty database.
  const ROUNDS = 10;
  const INSTANCES = 3;

  it(`lets ${INSTANCES} instances migrate one fresh database at once, ${ROUNDS} times`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const fresh = await createPostgresTestDatabase(requirePostgresAdminUrl());
      const handles: DatabaseHandle[] = [];
      try {
        for (let i = 0; i < INSTANCES; i++) {
          handles.push(await openDatabase({ kind: "postgres", url: fresh.url }));
        }

        const results = await Promise.allSettled(handles.map((h) => migrateDatabase(h)));

        expect(results.map((r) => r.status)).toEqual(Array(INSTANCES).fill("fulfilled"));
        const [first] = handles;
        expect(await query(first!, sql`select hash from drizzle.__drizzle_migrations`)).toHaveLength(
          await journalLength(),
        );
        // Every lock went away with its migration session.
        expect(await query(first!, sql`select 1 from pg_locks where locktype = 'advisory'`)).toEqual([]);
      } finally {
        await Promise.all(handles.map((h) => h.close()));
        await fresh.drop();
      }
    }
  });
});
