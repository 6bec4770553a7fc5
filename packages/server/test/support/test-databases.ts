/**
 * One fresh, empty PostgreSQL database per test file (or per test), on the server whose admin
 * URL the global setup provides (`inject("postgresUrl")`). Tests never share a database, so they
 * can run in parallel and need no cleanup beyond `drop()`.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";

export interface PostgresTestDatabase {
  /** URL of the new database: the admin URL with its database name replaced. */
  url: string;
  /** Name of the new database (`modbox_test_<random hex>`). */
  name: string;
  /** Drops the database `WITH (FORCE)`, closing any connection still open. Safe to call twice. */
  drop(): Promise<void>;
}

export async function createPostgresTestDatabase(adminUrl: string): Promise<PostgresTestDatabase> {
  const name = `modbox_test_${randomBytes(8).toString("hex")}`;
  await withAdmin(adminUrl, (sql) => sql`CREATE DATABASE ${sql(name)}`);

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on a short-lived single connection to the admin database. */
async function withAdmin(adminUrl: string, statement: (sql: postgres.Sql) => Promise<unknown>) {
  const sql = postgres(adminUrl, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await statement(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
