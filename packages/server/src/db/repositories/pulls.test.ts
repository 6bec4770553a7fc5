import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../client.js";
import { pullCredentialEvents, registries } from "../schema.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { insertRawImage, insertRawRegistry, FIXTURE_TIME as T0 } from "@modbox/testkit/fixtures";
import { freshWorkspaceId, uuidv7 } from "@modbox/testkit/ids";
import { createPullRepository, type PullCredentialEvent } from "./pulls.js";

const T1 = new Date("2025-01-03T03:04:05.999Z");
const T2 = new Date("2025-01-04T00:00:00.001Z");

/** What the touch may change, and what it must not. */
async function registryState(db: Db, id: string) {
  const [row] = await db
    .select({
      lastUsedAt: registries.lastUsedAt,
      updatedAt: registries.updatedAt,
      version: registries.version,
      deletedAt: registries.deletedAt,
    })
    .from(registries)
    .where(eq(registries.id, id));
  return row;
}

async function eventsOf(db: Db, workspaceId: string) {
  return db.select().from(pullCredentialEvents).where(eq(pullCredentialEvents.workspaceId, workspaceId)).orderBy(pullCredentialEvents.id);
}

function event(workspaceId: string, registryId: string | null, createdAt: Date): Omit<PullCredentialEvent, "outcome"> {
  return { id: uuidv7(), workspaceId, imageId: uuidv7(), registryId, tokenId: "token-1", createdAt };
}

describe.each(backends)("pull repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let repo: ReturnType<typeof createPullRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    repo = createPullRepository(db);
  });
  afterAll(() => testDb?.dispose());

  describe("resolve", () => {
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
          authType: "basic",
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
        authType: "basic",
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

  describe("audit events", () => {
    it("recordIssued writes exactly one event and marks the registry used, nothing else", async () => {
      const ws = freshWorkspaceId();
      const registryId = (await insertRawRegistry(db, ws)).id;
      const issued = event(ws, registryId, T1);

      await repo.recordIssued(issued);

      expect(await eventsOf(db, ws)).toStrictEqual([{ ...issued, outcome: "issued" }]);
      expect(await registryState(db, registryId)).toStrictEqual({ lastUsedAt: T1, updatedAt: T0, version: 1, deletedAt: null });
    });

    it("moves last_used_at forward, never back", async () => {
      const ws = freshWorkspaceId();
      const registryId = (await insertRawRegistry(db, ws)).id;

      await repo.recordIssued(event(ws, registryId, T1));
      await repo.recordIssued(event(ws, registryId, T0));
      expect((await registryState(db, registryId))?.lastUsedAt).toStrictEqual(T1);
      await repo.recordIssued(event(ws, registryId, T2));
      expect((await registryState(db, registryId))?.lastUsedAt).toStrictEqual(T2);
      // Every call is audited, the one that did not move the timestamp too.
      expect((await eventsOf(db, ws)).map((e) => e.createdAt)).toStrictEqual([T1, T0, T2]);
    });

    it("does not touch a deleted registry, but still records the event", async () => {
      const ws = freshWorkspaceId();
      const registryId = (await insertRawRegistry(db, ws, { lastUsedAt: T0, deletedAt: T1, passwordCiphertext: null, passwordKeyId: null })).id;
      const issued = event(ws, registryId, T2);

      await repo.recordIssued(issued);

      expect(await registryState(db, registryId)).toStrictEqual({ lastUsedAt: T0, updatedAt: T0, version: 1, deletedAt: T1 });
      expect(await eventsOf(db, ws)).toStrictEqual([{ ...issued, outcome: "issued" }]);
    });

    it("does not touch another workspace's registry", async () => {
      const owner = freshWorkspaceId();
      const registryId = (await insertRawRegistry(db, owner)).id;
      const other = freshWorkspaceId();

      await repo.recordIssued(event(other, registryId, T1));

      expect((await registryState(db, registryId))?.lastUsedAt).toBeNull();
      expect(await eventsOf(db, owner)).toEqual([]);
      expect(await eventsOf(db, other)).toHaveLength(1);
    });

    it("without a registry writes the event with a null registry", async () => {
      const ws = freshWorkspaceId();
      const issued = event(ws, null, T1);

      await repo.recordIssued(issued);

      expect(await eventsOf(db, ws)).toStrictEqual([{ ...issued, registryId: null, outcome: "issued" }]);
    });

    it("recordRefusal writes the event with its registry and outcome, never marking the registry used", async () => {
      const ws = freshWorkspaceId();
      const registryId = (await insertRawRegistry(db, ws)).id;
      const refused = { ...event(ws, registryId, T1), outcome: "registry_disabled" as const };
      const missing = { ...event(ws, null, T2), outcome: "not_found" as const };

      await repo.recordRefusal(refused);
      await repo.recordRefusal(missing);

      expect(await eventsOf(db, ws)).toStrictEqual([refused, missing]);
      expect((await registryState(db, registryId))?.lastUsedAt).toBeNull();
    });
  });
});
