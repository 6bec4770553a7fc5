/**
 * Test support: fresh, migrated databases on every available backend. PGlite (in-memory)
 * always; PostgreSQL too when one is available: the root global setup's server
 * (`inject("postgresUrl")`, see test/global-setup.ts) or, when running this package alone,
 * `DATABASE_URL`. Imports vitest: tests only, never re-exported from `index.ts`.
 */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createPostgresTestDatabase } from "../../test/support/test-databases.js";
import { openDatabase, type DatabaseHandle } from "./client.js";
import { migrateDatabase } from "./migrate.js";

export type Backend = "pglite" | "postgres";

/** Superuser URL of the PostgreSQL server to create test databases on; undefined: none. */
export const postgresAdminUrl: string | undefined =
  inject("postgresUrl") ?? process.env.DATABASE_URL ?? undefined;

/** The backends to run database tests on, for `describe.each`. */
export const backends: Backend[] = postgresAdminUrl ? ["pglite", "postgres"] : ["pglite"];

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
  const fresh = await createPostgresTestDatabase(requirePostgresAdminUrl());
  const handle = await openDatabase({ kind: "postgres", url: fresh.url });
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
