import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../client.js";
import { registries } from "../schema.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { insertRawImage, insertRawRegistry } from "@modbox/testkit/fixtures";
import { freshWorkspaceId, uuidv7 } from "@modbox/testkit/ids";
import { createPullResolutionRepository } from "./pull-resolution.js";

const T1 = new Date("2025-01-03T03:04:05.999Z");

describe.each(backends)("pull resolution repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let repo: ReturnType<typeof createPullResolutionRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    repo = createPullResolutionRepository(db);
  });
  afterAll(() => testDb?.dispose());

  it("resolves an image and its live registry in one answer, sealed password included", async () => {
    const ws = freshWorkspaceId();
    const registry = await insertRawRegistry(db, ws, { caCertificate: "-----BEGIN CERTIFICATE-----\n…", email: null });
    const image = await insertRawImage(db, ws, { registryId: registry.id, image: "ghcr.io/acme/private", tag: "v2" });

    expect(await repo.resolve(ws, image.id)).toStrictEqual({
      image: { id: image.id, workspaceId: ws, image: "ghcr.io/acme/private", tag: "v2", registryId: registry.id, enabled: true },
      registry: {
        id: registry.id,
        workspaceId: ws,
        name: registry.name,
        server: "ghcr.io",
        username: "robot",
        email: null,
        enabled: true,
        caCertificate: "-----BEGIN CERTIFICATE-----\n…",
        deletedAt: null,
        passwordCiphertext: registry.passwordCiphertext,
      },
    });
  });

  it("returns a deleted registry as its tombstone, with deleted_at and no credential", async () => {
    const ws = freshWorkspaceId();
    const registry = await insertRawRegistry(db, ws);
    const image = await insertRawImage(db, ws, { registryId: registry.id });
    await db
      .update(registries)
      .set({ deletedAt: T1, updatedAt: T1, passwordCiphertext: null, passwordKeyId: null })
      .where(eq(registries.id, registry.id));

    const resolved = await repo.resolve(ws, image.id);
    expect(resolved?.image.registryId).toBe(registry.id);
    expect(resolved?.registry).toStrictEqual({
      id: registry.id,
      workspaceId: ws,
      name: registry.name,
      server: "ghcr.io",
      username: "robot",
      email: "robot@example.com",
      enabled: true,
      caCertificate: null,
      deletedAt: T1,
      passwordCiphertext: null,
    });
  });

  it("an image without a registry has none", async () => {
    const ws = freshWorkspaceId();
    // A registry in the same workspace that the image does not link: never joined.
    await insertRawRegistry(db, ws);
    const image = await insertRawImage(db, ws);

    expect(await repo.resolve(ws, image.id)).toStrictEqual({
      image: { id: image.id, workspaceId: ws, image: "ghcr.io/acme/sandbox", tag: "v1", registryId: null, enabled: true },
      registry: null,
    });
  });

  it("answers disabled images and registries as they are (the service refuses them)", async () => {
    const ws = freshWorkspaceId();
    const registry = await insertRawRegistry(db, ws, { enabled: false });
    const image = await insertRawImage(db, ws, { registryId: registry.id, enabled: false });

    const resolved = await repo.resolve(ws, image.id);
    expect(resolved?.image.enabled).toBe(false);
    expect(resolved?.registry?.enabled).toBe(false);
    expect(resolved?.registry?.passwordCiphertext).toBe(registry.passwordCiphertext);
  });

  it("another workspace's image is null, linked or not; so is a missing id", async () => {
    const owner = freshWorkspaceId();
    const registry = await insertRawRegistry(db, owner);
    const linked = await insertRawImage(db, owner, { registryId: registry.id });
    const unlinked = await insertRawImage(db, owner);

    expect(await repo.resolve(freshWorkspaceId(), linked.id)).toBeNull();
    expect(await repo.resolve(freshWorkspaceId(), unlinked.id)).toBeNull();
    expect(await repo.resolve(owner, uuidv7())).toBeNull();
    // The owner still sees it.
    expect((await repo.resolve(owner, linked.id))?.registry?.id).toBe(registry.id);
  });
});
