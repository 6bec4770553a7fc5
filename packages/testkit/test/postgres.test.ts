import postgres from "postgres";
import { describe, expect, inject, it } from "vitest";
import { createPostgresTestDatabase } from "../src/postgres.js";

const postgresUrl = inject("postgresUrl");

describe.skipIf(!postgresUrl)("PostgreSQL test server (global setup)", () => {
  it("creates a fresh database on PostgreSQL 15, queries it, and drops it", async () => {
    const adminUrl = postgresUrl!;
    const db = await createPostgresTestDatabase(adminUrl);
    expect(db.name).toMatch(/^modbox_test_[0-9a-f]{16}$/);
    expect(new URL(db.url).pathname).toBe(`/${db.name}`);

    const sql = postgres(db.url, { max: 1, connect_timeout: 10, onnotice: () => {} });
    try {
      const [row] = await sql<{ version: string; database: string }[]>`
        select version() as version, current_database() as database`;
      expect(row?.version).toMatch(/^PostgreSQL 15\./);
      expect(row?.database).toBe(db.name);
    } finally {
      await sql.end({ timeout: 5 });
    }

    await db.drop();
    await db.drop(); // idempotent

    const admin = postgres(adminUrl, { max: 1, connect_timeout: 10, onnotice: () => {} });
    try {
      const left = await admin`select 1 from pg_database where datname = ${db.name}`;
      expect(left).toHaveLength(0);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });

  it("drops a database even while a connection to it is still open (WITH FORCE)", async () => {
    const db = await createPostgresTestDatabase(postgresUrl!);
    const sql = postgres(db.url, { max: 1, connect_timeout: 10, onnotice: () => {} });
    try {
      await sql`select 1`;
      await db.drop();
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  });
});
