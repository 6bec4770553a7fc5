/**
 * Test support: fresh, migrated databases on every available backend. PGlite (in-memory)
 * always; PostgreSQL too when `DATABASE_URL` points at a server where we may create databases.
 * Not exported from `index.ts`: tests import it directly.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "./client.js";
import { migrateDatabase } from "./migrate.js";

export type Backend = "pglite" | "postgres";

/** The backends to run database tests on, for `describe.each`. */
export const backends: Backend[] = process.env.DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];

export interface TestDatabase {
  handle: DatabaseHandle;
  /** Closes the handle and, on PostgreSQL, drops the database. */
  dispose(): Promise<void>;
}

/** A fresh migrated database. PGlite takes ~4 s: create one per test file, in `beforeAll`. */
export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === "pglite") {
    const handle = await openDatabase({ kind: "pglite" });
    await migrateDatabase(handle);
    return { handle, dispose: () => handle.close() };
  }
  const fresh = await createFreshPostgresDatabase(requireDatabaseUrl());
  const handle = await openDatabase({ kind: "postgres", url: fresh.url });
  try {
    await migrateDatabase(handle);
  } catch (err) {
    await handle.close();
    await fresh.drop();
    throw err;
  }
  return {
    handle,
    dispose: async () => {
      await handle.close();
      await fresh.drop();
    },
  };
}

export interface FreshPostgresDatabase {
  /** `adminUrl` with its database replaced by the new one. */
  url: string;
  /** Drops the database, disconnecting whoever is still connected. */
  drop(): Promise<void>;
}

/** Creates an empty database with a random name through an admin connection. */
export async function createFreshPostgresDatabase(adminUrl: string): Promise<FreshPostgresDatabase> {
  const name = `modbox_test_${randomBytes(8).toString("hex")}`;
  const admin = () => postgres(adminUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
  const sql = admin();
  try {
    await sql`create database ${sql(name)}`;
  } finally {
    await sql.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const sql = admin();
      try {
        // WITH (FORCE) (PostgreSQL 13+): a leaked connection must not leave the database behind.
        await sql`drop database if exists ${sql(name)} with (force)`;
      } finally {
        await sql.end();
      }
    },
  };
}

export function requireDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set");
  return url;
}

let lastMillis = 0;
let sequence = 0;

/**
 * A UUIDv7 whose order is creation order, even within one millisecond (a 12-bit counter in
 * `rand_a`, RFC 9562 method 1), as the app's own ids are.
 */
export function uuidv7(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMillis += 1;
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMillis, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A workspace id no other test uses, so tests can share one database. */
export function freshWorkspaceId(): string {
  return `ws-${randomBytes(6).toString("hex")}`;
}
