/**
 * Rows written with drizzle directly, so a repository's tests depend on no other repository,
 * and the one instant every fixture is created at.
 */
import { uuidv7 } from "./ids.js";
import { registries, sandboxImages, type Db } from "./server.js";

/** The instant fixtures are created and last updated at, unless overridden. */
export const FIXTURE_TIME = new Date("2025-01-02T03:04:05.678Z");

/** Inserts a live, enabled ghcr.io registry with a (fake) sealed password unique to it; returns the row. */
export async function insertRawRegistry(db: Db, workspaceId: string, overrides: Partial<typeof registries.$inferInsert> = {}) {
  const id = uuidv7();
  const row = {
    id,
    workspaceId,
    name: `registry-${id}`,
    server: "ghcr.io",
    username: "robot",
    email: "robot@example.com",
    enabled: true,
    caCertificate: null,
    passwordCiphertext: `v1:k1:ciphertext-${id}`,
    passwordKeyId: "k1",
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
  await db.insert(registries).values(row);
  return row;
}

/** Inserts an enabled, unlinked sandbox image (link it with `registryId`); returns the row. */
export async function insertRawImage(db: Db, workspaceId: string, overrides: Partial<typeof sandboxImages.$inferInsert> = {}) {
  const id = uuidv7();
  const row = {
    id,
    workspaceId,
    name: `image-${id}`,
    image: "ghcr.io/acme/sandbox",
    tag: "v1",
    registryId: null,
    enabled: true,
    memoryMb: 1024,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
  await db.insert(sandboxImages).values(row);
  return row;
}
