import { readFile } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "./client.js";
import { migrateDatabase, MIGRATIONS_FOLDER } from "./migrate.js";
import { createFreshPostgresDatabase, requireDatabaseUrl } from "./test-databases.js";

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

      const client = (handle.db as unknown as { $client: { query(q: string): Promise<{ rows: unknown[] }> } }).$client;
      const applied = await client.query("select hash from drizzle.__drizzle_migrations");
      expect(applied.rows).toHaveLength(await journalLength());
      const tables = await client.query(
        "select table_name from information_schema.tables where table_schema = 'public' order by 1",
      );
      expect(tables.rows).toEqual([
        { table_name: "api_tokens" },
        { table_name: "registries" },
        { table_name: "sandbox_images" },
      ]);
    } finally {
      await handle.close();
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)("migrateDatabase on PostgreSQL", () => {
  // Each round is three "instances" (their own pools) starting at once on one empty database.
  const ROUNDS = 5;
  const INSTANCES = 3;

  it(`lets ${INSTANCES} instances migrate one fresh database at once, ${ROUNDS} times`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const fresh = await createFreshPostgresDatabase(requireDatabaseUrl());
      const handles: DatabaseHandle[] = [];
      try {
        for (let i = 0; i < INSTANCES; i++) handles.push(await openDatabase({ kind: "postgres", url: fresh.url }));

        const results = await Promise.allSettled(handles.map((h) => migrateDatabase(h)));

        expect(results.map((r) => r.status)).toEqual(Array(INSTANCES).fill("fulfilled"));
        const sql = postgres(fresh.url, { max: 1, onnotice: () => {} });
        try {
          const applied = await sql`select hash from drizzle.__drizzle_migrations`;
          expect(applied).toHaveLength(await journalLength());
          // Every lock was released with its migration session.
          const locks = await sql`select 1 from pg_locks where locktype = 'advisory'`;
          expect(locks).toHaveLength(0);
        } finally {
          await sql.end();
        }
      } finally {
        await Promise.all(handles.map((h) => h.close()));
        await fresh.drop();
      }
    }
  });
});
