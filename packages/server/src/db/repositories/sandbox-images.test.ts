import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  createTestDatabase,
  postgresAdminUrl,
  type TestDatabase,
} from "@modbox/testkit/databases";
import { freshWorkspaceId, uuidv7 } from "@modbox/testkit/ids";
import type { DatabaseHandle, Db } from "../client.js";
import { classifyDatabaseError } from "../errors.js";
import type { NewSandboxImage, SandboxImageRecord } from "../records.js";
import { sandboxImages } from "../schema.js";
import { createRegistryRepository } from "./registries.js";
import { createSandboxImageRepository, linkedImages, RegistryNotLinkableError, SANDBOX_IMAGE_REGISTRY_FK } from "./sandbox-images.js";
import { FIXTURE_TIME as T0, newImage, newRegistry as registryToInsert } from "@modbox/testkit/fixtures";
import { walkPages } from "@modbox/testkit/paging";

const T1 = new Date("2025-01-03T03:04:05.999Z");

/** What the kit's `newImage` image and tag pull as: the repository stores it with them. */
const REFERENCE = "ghcr.io/acme/sandbox:latest";

describe.each(backends)("sandbox image repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let images: ReturnType<typeof createSandboxImageRepository>;
  let regs: ReturnType<typeof createRegistryRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    images = createSandboxImageRepository(db);
    regs = createRegistryRepository(db);
  });
  afterAll(() => testDb?.dispose());

  async function newRegistry(workspaceId: string, name = `registry-${uuidv7()}`) {
    return regs.insert(registryToInsert(workspaceId, { name, email: null, passwordCiphertext: "v1:k1:sealed" }));
  }

  async function defaultIds(workspaceId: string) {
    const rows = await db
      .select({ id: sandboxImages.id })
      .from(sandboxImages)
      .where(and(eq(sandboxImages.workspaceId, workspaceId), eq(sandboxImages.isDefault, true)));
    return rows.map((r) => r.id);
  }

  it("inserts and finds a public image, every field round-tripping", async () => {
    const ws = freshWorkspaceId();
    const row = newImage(ws, {
      description: "Python",
      ttlSeconds: 3600,
      readinessPort: 8080,
      memoryMb: 2048,
    });

    const expected = { ...row, reference: REFERENCE, registryName: null, version: 1 };
    expect(await images.insert(row)).toStrictEqual(expected);
    expect(await images.findById(ws, row.id)).toStrictEqual(expected);
  });

  it("stores the reference derived from image and tag, and rewrites it when they change", async () => {
    const ws = freshWorkspaceId();
    const row = await images.insert(newImage(ws, { image: "ubuntu", tag: "22.04" }));
    expect(row.reference).toBe("docker.io/library/ubuntu:22.04");

    const updated = await images.update(ws, row.id, 1, { image: "ghcr.io/acme/app", tag: "22.04", updatedAt: T1 });
    expect(updated).toMatchObject({ image: "ghcr.io/acme/app", reference: "ghcr.io/acme/app:22.04" });
    expect(await images.update(ws, row.id, 2, { name: "renamed", updatedAt: T1 })).toMatchObject({ reference: "ghcr.io/acme/app:22.04" });
    expect((await images.list(ws, { limit: 10 }))[0]).toMatchObject({ reference: "ghcr.io/acme/app:22.04" });
  });

  it("fills registryName from the linked registry", async () => {
    const ws = freshWorkspaceId();
    const registry = await newRegistry(ws, "prod");

    const created = await images.insert(newImage(ws, { registryId: registry.id }));

    expect(created).toMatchObject({ registryId: registry.id, registryName: "prod" });
    expect(await images.list(ws, { limit: 10 })).toMatchObject([{ registryName: "prod" }]);
  });

  it("answers registryName null once the registry is deleted, keeping registryId", async () => {
    const ws = freshWorkspaceId();
    const registry = await newRegistry(ws, "prod");
    const image = await images.insert(newImage(ws, { registryId: registry.id }));

    await regs.softDeleteUnlessLinked(ws, registry.id, T1, { force: true, listLimit: 0 });

    expect(await images.findById(ws, image.id)).toMatchObject({ registryId: registry.id, registryName: null });
    expect(await images.list(ws, { limit: 10 })).toMatchObject([
      { registryId: registry.id, registryName: null },
    ]);
    // A new registry reusing the name must not be mistaken for the deleted one.
    await newRegistry(ws, "prod");
    expect(await images.findById(ws, image.id)).toMatchObject({ registryName: null });
  });

  it("inserts and finds a linked image, every field round-tripping, at version 1", async () => {
    const ws = freshWorkspaceId();
    const registry = await newRegistry(ws, "prod");
    for (const overrides of [
      { description: "Python", ttlSeconds: 3600, readinessPort: 8080, memoryMb: 2048, enabled: false },
      { description: null, ttlSeconds: null, readinessPort: null },
    ]) {
      const row = newImage(ws, { registryId: registry.id, updatedAt: T1, ...overrides });

      const expected = { ...row, reference: REFERENCE, registryName: "prod", version: 1 };
      expect(await images.insert(row)).toStrictEqual(expected);
      expect(await images.findById(ws, row.id)).toStrictEqual(expected);
      const [stored] = await db.select({ version: sandboxImages.version }).from(sandboxImages).where(eq(sandboxImages.id, row.id));
      expect(stored!.version).toBe(1);
    }
  });

  describe("linkedImages (the safe delete's question)", () => {
    it("answers the linked image ids, newest first, up to the limit, and the full count", async () => {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws);
      const other = await newRegistry(ws);
      const linked = [];
      for (let i = 0; i < 3; i++) linked.push(await images.insert(newImage(ws, { registryId: registry.id })));
      await images.insert(newImage(ws, { registryId: other.id }));
      await images.insert(newImage(ws));

      expect(await linkedImages(db, ws, registry.id, 100)).toEqual({ ids: linked.map((i) => i.id).reverse(), count: 3 });
      expect(await linkedImages(db, ws, registry.id, 2)).toEqual({ ids: [linked[2]!.id, linked[1]!.id], count: 3 });
      expect(await linkedImages(db, ws, uuidv7(), 100)).toEqual({ ids: [], count: 0 });
    });

    it("sees nothing of another workspace, and still counts images of a deleted registry", async () => {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws);
      const image = await images.insert(newImage(ws, { registryId: registry.id }));
      expect(await linkedImages(db, freshWorkspaceId(), registry.id, 100)).toEqual({ ids: [], count: 0 });
      await regs.softDeleteUnlessLinked(ws, registry.id, T1, { force: true, listLimit: 0 });
      expect(await linkedImages(db, ws, registry.id, 100)).toEqual({ ids: [image.id], count: 1 });
    });
  });

  it("a new repository finds an image by id in its own workspace only", async () => {
    // A repository of its own: its statements are built by createSandboxImageRepository, and the
    // mutation run credits what runs in a hook (the shared `images`) to no test.
    const fresh = createSandboxImageRepository(db);
    const ws = freshWorkspaceId();
    const image = await fresh.insert(newImage(ws));

    expect(await fresh.findById(ws, image.id)).toStrictEqual(image);
    expect(await fresh.findById(freshWorkspaceId(), image.id)).toBeNull();
    expect(await fresh.findById(ws, uuidv7())).toBeNull();
  });

  describe("a link to another workspace's registry is refused", () => {
    it.each([
      ["insert", async (ws: string, registryId: string) => images.insert(newImage(ws, { registryId }))],
      [
        "update",
        async (ws: string, registryId: string) => {
          const image = await images.insert(newImage(ws));
          return images.update(ws, image.id, 1, { registryId, updatedAt: T1 });
        },
      ],
    ])("by the repository, on %s", async (_, link) => {
      const foreign = await newRegistry(freshWorkspaceId());
      const ws = freshWorkspaceId();

      const err = await link(ws, foreign.id).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(RegistryNotLinkableError);
      expect(err).toMatchObject({ name: "RegistryNotLinkableError", message: "registry is not live in this workspace" });
      const linked = (await images.list(ws, { limit: 10 })).filter((i) => i.registryId === foreign.id);
      expect(linked).toEqual([]);
    });

    it("by the repository for a registry that does not exist or was deleted", async () => {
      await expect(images.insert(newImage(freshWorkspaceId(), { registryId: uuidv7() }))).rejects.toBeInstanceOf(
        RegistryNotLinkableError,
      );
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws);
      await regs.softDeleteUnlessLinked(ws, registry.id, T1, { force: true, listLimit: 0 });
      await expect(images.insert(newImage(ws, { registryId: registry.id }))).rejects.toBeInstanceOf(RegistryNotLinkableError);
    });

    it("and by the composite foreign key underneath it (defence in depth)", async () => {
      const foreign = await newRegistry(freshWorkspaceId());
      const row = newImage(freshWorkspaceId(), { registryId: foreign.id });
      const err = await db
        .insert(sandboxImages)
        .values({ ...row, registryId: foreign.id })
        .catch((e: unknown) => e);
      expect(classifyDatabaseError(err)).toEqual({ kind: "foreign_key_violation", constraint: SANDBOX_IMAGE_REGISTRY_FK });
    });
  });

  it("a delete without force counts every linked image, disabled ones too, and deletes nothing", async () => {
    const ws = freshWorkspaceId();
    const registry = await newRegistry(ws);
    const older = await images.insert(newImage(ws, { registryId: registry.id, enabled: false }));
    const newer = await images.insert(newImage(ws, { registryId: registry.id, enabled: false }));
    await images.insert(newImage(ws, { enabled: false }));

    expect(await regs.softDeleteUnlessLinked(ws, registry.id, T1, { force: false, listLimit: 10 })).toEqual({
      outcome: "in_use",
      ids: [newer.id, older.id],
      count: 2,
    });
    expect(await regs.findById(ws, registry.id)).toMatchObject({ id: registry.id, version: 1 });
  });

  it("a delete without force and a concurrent link never leave an image on a deleted registry", async () => {
    for (let round = 0; round < 20; round++) {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws);
      const [deleted, linked] = await Promise.allSettled([
        regs.softDeleteUnlessLinked(ws, registry.id, T1, { force: false, listLimit: 10 }),
        images.insert(newImage(ws, { registryId: registry.id })),
      ]);
      const wasDeleted = deleted.status === "fulfilled" && deleted.value.outcome === "deleted";
      const wasLinked = linked.status === "fulfilled";
      // Exactly one wins: the delete (and the link is refused) or the link (and the delete says in_use).
      expect(wasDeleted !== wasLinked, `round ${round}: deleted=${wasDeleted} linked=${wasLinked}`).toBe(true);
      if (!wasLinked) expect((linked as PromiseRejectedResult).reason).toBeInstanceOf(RegistryNotLinkableError);
    }
  });

  describe("another workspace's image is invisible and untouched", () => {
    it.each([
      ["findById", (ws: string, id: string) => images.findById(ws, id), null],
      ["update", (ws: string, id: string) => images.update(ws, id, 1, { name: "stolen", updatedAt: T1 }), null],
      [
        "update to default",
        (ws: string, id: string) => images.update(ws, id, 1, { isDefault: true, updatedAt: T1 }),
        null,
      ],
      ["delete", (ws: string, id: string) => images.delete(ws, id), false],
    ] as const)("%s", async (_, operation, answer) => {
      const owner = freshWorkspaceId();
      const before = await images.insert(newImage(owner));

      expect(await operation(freshWorkspaceId(), before.id)).toBe(answer);

      expect(await images.findById(owner, before.id)).toStrictEqual(before);
    });

    it("list", async () => {
      await images.insert(newImage(freshWorkspaceId()));
      expect(await images.list(freshWorkspaceId(), { limit: 10 })).toEqual([]);
    });
  });

  describe("list", () => {
    const ws = freshWorkspaceId();
    let registryId: string;
    let rows: NewSandboxImage[];

    beforeAll(async () => {
      registryId = (await newRegistry(ws)).id;
      rows = [
        newImage(ws, { registryId, enabled: true }),
        newImage(ws, { enabled: true }),
        newImage(ws, { registryId, enabled: false }),
        newImage(ws, { registryId, enabled: true }),
        newImage(ws, { enabled: false }),
        newImage(ws, { registryId, enabled: true }),
      ];
      for (const row of rows) await images.insert(row);
      await images.insert(newImage(freshWorkspaceId()));
    });

    /** Every id, page by page; never more pages than rows (a cursor that does not advance fails). */
    async function allIds(q: { registryId?: string; enabled?: boolean }, limit: number) {
      const pages = await walkPages<SandboxImageRecord>((last) => images.list(ws, { ...q, limit, ...(last && { beforeId: last.id }) }), rows.length);
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(limit);
      return pages.flat().map((r) => r.id);
    }
    const newestFirst = (keep: (r: NewSandboxImage) => boolean) =>
      rows.filter(keep).map((r) => r.id).reverse();

    it("pages newest first with a keyset", async () => {
      expect(await allIds({}, 4)).toEqual(newestFirst(() => true));
    });

    it("pages with a registry filter", async () => {
      expect(await allIds({ registryId }, 2)).toEqual(newestFirst((r) => r.registryId === registryId));
    });

    it("pages with registry and enabled filters", async () => {
      expect(await allIds({ registryId, enabled: true }, 1)).toEqual(
        newestFirst((r) => r.registryId === registryId && r.enabled),
      );
    });
  });

  describe("update", () => {
    it("changes only the given fields and bumps the version", async () => {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws, "prod");
      const before = await images.insert(newImage(ws, { registryId: registry.id, ttlSeconds: 600 }));

      const after = await images.update(ws, before.id, 1, { description: "new", ttlSeconds: null, updatedAt: T1 });

      expect(after).toStrictEqual({ ...before, description: "new", ttlSeconds: null, updatedAt: T1, version: 2 });
      const [row] = await db
        .select({ version: sandboxImages.version })
        .from(sandboxImages)
        .where(eq(sandboxImages.id, before.id));
      expect(row!.version).toBe(2);
    });

    it("at a version the row has left, answers null and changes nothing, the default case included", async () => {
      const ws = freshWorkspaceId();
      const current = await images.insert(newImage(ws, { isDefault: true }));
      const other = await images.insert(newImage(ws));
      await images.update(ws, other.id, 1, { name: "moved", updatedAt: T1 });
      const before = await images.findById(ws, other.id);

      expect(await images.update(ws, other.id, 1, { name: "lost", updatedAt: T1 })).toBeNull();
      expect(await images.update(ws, other.id, 1, { isDefault: true, updatedAt: T1 })).toBeNull();

      expect(await images.findById(ws, other.id)).toStrictEqual(before);
      expect(await defaultIds(ws)).toEqual([current.id]);
    });

    it("delete with versions deletes only at one of them", async () => {
      const ws = freshWorkspaceId();
      const image = await images.insert(newImage(ws));
      await images.update(ws, image.id, 1, { name: "moved", updatedAt: T1 });

      expect(await images.delete(ws, image.id, [1, 3])).toBe(false);
      expect(await images.findById(ws, image.id)).toMatchObject({ version: 2 });
      expect(await images.delete(ws, image.id, [2])).toBe(true);
    });

    it("unlinks the registry with null", async () => {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws);
      const before = await images.insert(newImage(ws, { registryId: registry.id }));

      expect(await images.update(ws, before.id, 1, { registryId: null, updatedAt: T1 })).toMatchObject({
        registryId: null,
        registryName: null,
      });
    });
  });

  describe("one default image per workspace", () => {
    it("a new default replaces the old one", async () => {
      const ws = freshWorkspaceId();
      const first = await images.insert(newImage(ws, { isDefault: true }));
      const second = await images.insert(newImage(ws, { isDefault: true, updatedAt: T1 }));

      expect(await defaultIds(ws)).toEqual([second.id]);
      // The old default changed visibly, at the time of the change that cleared it.
      expect(await images.findById(ws, first.id)).toMatchObject({ isDefault: false, updatedAt: T1 });
    });

    it("an update to default replaces the old one", async () => {
      const ws = freshWorkspaceId();
      const first = await images.insert(newImage(ws, { isDefault: true }));
      const second = await images.insert(newImage(ws));

      const updated = await images.update(ws, second.id, 1, { isDefault: true, updatedAt: T1 });
      expect(updated).toMatchObject({ isDefault: true });
      expect(await defaultIds(ws)).toEqual([second.id]);
      // Setting the default again on the default is a no-op, not a conflict.
      await images.update(ws, second.id, 2, { isDefault: true, updatedAt: T1 });
      expect(await defaultIds(ws)).toEqual([second.id]);
      expect(first.isDefault).toBe(true);
    });

    it("a missing image does not clear the default", async () => {
      const ws = freshWorkspaceId();
      const current = await images.insert(newImage(ws, { isDefault: true }));

      expect(await images.update(ws, uuidv7(), 1, { isDefault: true, updatedAt: T1 })).toBeNull();
      expect(await defaultIds(ws)).toEqual([current.id]);
    });

    it("a new default may be linked to a registry (the insert inside the transaction)", async () => {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws, "prod");
      const first = await images.insert(newImage(ws, { isDefault: true }));
      const row = newImage(ws, { isDefault: true, registryId: registry.id, ttlSeconds: 60, updatedAt: T1 });

      expect(await images.insert(row)).toStrictEqual({ ...row, reference: REFERENCE, registryName: "prod", version: 1 });
      expect(await images.findById(ws, row.id)).toStrictEqual({ ...row, reference: REFERENCE, registryName: "prod", version: 1 });
      expect(await defaultIds(ws)).toEqual([row.id]);
      expect(await images.findById(ws, first.id)).toMatchObject({ isDefault: false });
    });

    it("a new default linked to a deleted or foreign registry is refused and keeps the old default", async () => {
      const ws = freshWorkspaceId();
      const current = await images.insert(newImage(ws, { isDefault: true }));
      const deleted = await newRegistry(ws);
      await regs.softDeleteUnlessLinked(ws, deleted.id, T1, { force: true, listLimit: 0 });
      const foreign = await newRegistry(freshWorkspaceId());

      for (const registryId of [deleted.id, foreign.id, uuidv7()]) {
        const row = newImage(ws, { isDefault: true, registryId, updatedAt: T1 });
        await expect(images.insert(row)).rejects.toBeInstanceOf(RegistryNotLinkableError);
        expect(await images.findById(ws, row.id)).toBeNull();
      }
      // The transaction rolled back: the old default was not cleared.
      expect(await defaultIds(ws)).toEqual([current.id]);
      expect(await images.findById(ws, current.id)).toStrictEqual(current);
    });

    it("leaves other workspaces' defaults alone", async () => {
      const other = freshWorkspaceId();
      const theirs = await images.insert(newImage(other, { isDefault: true }));

      await images.insert(newImage(freshWorkspaceId(), { isDefault: true }));

      expect(await defaultIds(other)).toEqual([theirs.id]);
    });

    it("concurrent changes of the default all succeed and leave exactly one", async () => {
      const ws = freshWorkspaceId();
      const candidates = [];
      for (let i = 0; i < 6; i++) {
        candidates.push(await images.insert(newImage(ws, { isDefault: i === 0 })));
      }

      await Promise.all([
        ...candidates.map((c) => images.update(ws, c.id, 1, { isDefault: true, updatedAt: T1 })),
        images.insert(newImage(ws, { isDefault: true })),
        images.insert(newImage(ws, { isDefault: true })),
      ]);

      expect(await defaultIds(ws)).toHaveLength(1);
    });
  });

  describe("updateLocked", () => {
    it("hands plan the locked row and a reader of the workspace's live registries, and writes its patch", async () => {
      const ws = freshWorkspaceId();
      const live = await newRegistry(ws, "prod");
      const deleted = await newRegistry(ws);
      await regs.softDeleteUnlessLinked(ws, deleted.id, T1, { force: true, listLimit: 0 });
      const foreign = await newRegistry(freshWorkspaceId());
      const image = await images.insert(newImage(ws));
      const moved = (await images.update(ws, image.id, 1, { name: "moved", updatedAt: T1 }))!;
      const seen: unknown[] = [];

      const updated = await images.updateLocked(ws, image.id, false, async (current, findRegistry) => {
        seen.push(current);
        seen.push(await findRegistry(ws, live.id), await findRegistry(ws, deleted.id), await findRegistry(ws, foreign.id));
        seen.push(await findRegistry(foreign.workspaceId, foreign.id), await findRegistry(ws, uuidv7()));
        return { registryId: live.id, description: "linked", updatedAt: T1 };
      });

      expect(seen).toStrictEqual([moved, { id: live.id, server: "ghcr.io" }, null, null, { id: foreign.id, server: "ghcr.io" }, null]);
      const expected = { ...moved, registryId: live.id, registryName: "prod", description: "linked", version: 3 };
      expect(updated).toStrictEqual(expected);
      expect(await images.findById(ws, image.id)).toStrictEqual(expected);
    });

    it("answers null without calling plan for a missing or foreign image", async () => {
      const image = await images.insert(newImage(freshWorkspaceId()));
      const planned: string[] = [];
      const plan = async (current: SandboxImageRecord) => {
        planned.push(current.id);
        return { name: "stolen", updatedAt: T1 };
      };

      expect(await images.updateLocked(freshWorkspaceId(), image.id, false, plan)).toBeNull();
      expect(await images.updateLocked(image.workspaceId, uuidv7(), true, plan)).toBeNull();

      expect(planned).toStrictEqual([]);
      expect(await images.findById(image.workspaceId, image.id)).toStrictEqual(image);
    });

    it("changes nothing when plan throws, and rejects with its error", async () => {
      const ws = freshWorkspaceId();
      const current = await images.insert(newImage(ws, { isDefault: true }));
      const image = await images.insert(newImage(ws));
      const refusal = new Error("the plan refused");

      await expect(images.updateLocked(ws, image.id, true, () => Promise.reject(refusal))).rejects.toBe(refusal);

      expect(await images.findById(ws, image.id)).toStrictEqual(image);
      expect(await defaultIds(ws)).toStrictEqual([current.id]);
    });

    it.each([true, false])("makes the image the default and clears the old one (takesDefault %s)", async (takesDefault) => {
      const ws = freshWorkspaceId();
      const old = await images.insert(newImage(ws, { isDefault: true }));
      const image = await images.insert(newImage(ws));

      const updated = await images.updateLocked(ws, image.id, takesDefault, async () => ({ isDefault: true, updatedAt: T1 }));

      expect(updated).toStrictEqual({ ...image, isDefault: true, updatedAt: T1, version: 2 });
      expect(await defaultIds(ws)).toStrictEqual([image.id]);
      expect(await images.findById(ws, old.id)).toStrictEqual({ ...old, isDefault: false, updatedAt: T1, version: 2 });
    });

    it("refuses to link a registry that is not live in the workspace, and changes nothing", async () => {
      const ws = freshWorkspaceId();
      const foreign = await newRegistry(freshWorkspaceId());
      const image = await images.insert(newImage(ws));

      await expect(images.updateLocked(ws, image.id, false, async () => ({ registryId: foreign.id, updatedAt: T1 }))).rejects.toBeInstanceOf(
        RegistryNotLinkableError,
      );

      expect(await images.findById(ws, image.id)).toStrictEqual(image);
    });
  });

  describe("writes that must leave the rest alone", () => {
    it("an update links a live registry of the workspace and answers its name", async () => {
      const ws = freshWorkspaceId();
      const registry = await newRegistry(ws, "prod");
      const image = await images.insert(newImage(ws));

      const expected = { ...image, registryId: registry.id, registryName: "prod", updatedAt: T1, version: 2 };
      expect(await images.update(ws, image.id, 1, { registryId: registry.id, updatedAt: T1 })).toStrictEqual(expected);
      expect(await images.findById(ws, image.id)).toStrictEqual(expected);
    });

    it("an update to default bumps the old default's version and leaves other images and workspaces alone", async () => {
      const ws = freshWorkspaceId();
      const old = await images.insert(newImage(ws, { isDefault: true }));
      const bystander = await images.insert(newImage(ws));
      const image = await images.insert(newImage(ws));
      const otherWs = freshWorkspaceId();
      const theirs = await images.insert(newImage(otherWs, { isDefault: true }));

      await images.update(ws, image.id, 1, { isDefault: true, updatedAt: T1 });

      expect(await images.findById(ws, old.id)).toStrictEqual({ ...old, isDefault: false, updatedAt: T1, version: 2 });
      expect(await images.findById(ws, bystander.id)).toStrictEqual(bystander);
      expect(await images.findById(otherWs, theirs.id)).toStrictEqual(theirs);
    });

    it("an update that does not make the image the default keeps the workspace's default", async () => {
      const ws = freshWorkspaceId();
      const current = await images.insert(newImage(ws, { isDefault: true }));
      const image = await images.insert(newImage(ws));

      expect(await images.update(ws, image.id, 1, { isDefault: false, name: "renamed", updatedAt: T1 })).toMatchObject({ name: "renamed", version: 2 });

      expect(await images.findById(ws, current.id)).toStrictEqual(current);
    });

    it("a delete at one of the given versions answers false in another workspace and deletes nothing", async () => {
      const image = await images.insert(newImage(freshWorkspaceId()));

      expect(await images.delete(freshWorkspaceId(), image.id, [1])).toBe(false);

      expect(await images.findById(image.workspaceId, image.id)).toStrictEqual(image);
    });

    it("lists by enabled alone, newest first, and after a cursor", async () => {
      const ws = freshWorkspaceId();
      const rows = [];
      for (const enabled of [false, true, false, false, true]) rows.push(await images.insert(newImage(ws, { enabled })));
      await images.insert(newImage(freshWorkspaceId(), { enabled: false }));
      const disabled = rows.filter((r) => !r.enabled).map((r) => r.id).reverse();

      expect((await images.list(ws, { enabled: false, limit: 10 })).map((r) => r.id)).toStrictEqual(disabled);
      expect((await images.list(ws, { enabled: false, limit: 2 })).map((r) => r.id)).toStrictEqual(disabled.slice(0, 2));
      expect((await images.list(ws, { enabled: false, limit: 10, beforeId: disabled[0] })).map((r) => r.id)).toStrictEqual(disabled.slice(1));
      expect((await images.list(ws, { enabled: true, limit: 10 })).map((r) => r.id)).toStrictEqual([rows[4]!.id, rows[1]!.id]);
    });
  });

  it("deletes an image", async () => {
    const ws = freshWorkspaceId();
    const image = await images.insert(newImage(ws));

    expect(await images.delete(ws, image.id)).toBe(true);
    expect(await images.findById(ws, image.id)).toBeNull();
    expect(await images.delete(ws, image.id)).toBe(false);
  });
});

describe.skipIf(!postgresAdminUrl)("sandbox image inserts on PostgreSQL", () => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    // One connection, so that pg_prepared_statements below is the connection that ran the inserts.
    testDb = await createTestDatabase("postgres", { maxConnections: 1 });
    handle = testDb.handle;
  });
  afterAll(() => testDb?.dispose());

  it("run as prepared (named) statements, outside the default case's transaction", async () => {
    const { db } = handle;
    const images = createSandboxImageRepository(db);
    const ws = freshWorkspaceId();
    const registry = await createRegistryRepository(db).insert({
      id: uuidv7(),
      workspaceId: ws,
      name: "prod",
      server: "ghcr.io",
      username: "robot",
      email: null,
      enabled: true,
      passwordCiphertext: "v1:k1:sealed",
      passwordKeyId: "k1",
      createdAt: T0,
      updatedAt: T0,
    });
    const prepared = async () => {
      const rows = (await db.execute(
        sql`select statement from pg_prepared_statements where statement like '%insert into "sandbox_images"%'`,
      )) as unknown as { statement: string }[];
      return rows.map((r) => (r.statement.includes('"reg"') ? "linked" : "unlinked")).sort();
    };

    await images.insert(newImage(ws, { isDefault: true, registryId: registry.id }));
    expect(await prepared()).toEqual([]);

    await images.insert(newImage(ws));
    await images.insert(newImage(ws, { registryId: registry.id }));
    await images.insert(newImage(ws, { registryId: registry.id }));
    await expect(images.insert(newImage(ws, { registryId: uuidv7() }))).rejects.toBeInstanceOf(RegistryNotLinkableError);
    expect(await prepared()).toEqual(["linked", "unlinked"]);
    expect(await images.list(ws, { limit: 10 })).toHaveLength(4);
  });
});

/**
 * Changes of a workspace's default image wait for its default lock. A change that took none
 * would clear the old default beside another change doing the same, and one of them would fail
 * on the unique index: that race is rare, so these tests make the wait itself visible instead.
 * PostgreSQL only: the held lock and the waiting change need two connections.
 */
describe.skipIf(!postgresAdminUrl)("default image changes wait for the workspace's default lock on PostgreSQL", () => {
  let testDb: TestDatabase;
  let db: Db;
  let images: ReturnType<typeof createSandboxImageRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase("postgres", { maxConnections: 4 });
    db = testDb.handle.db;
    images = createSandboxImageRepository(db);
  });
  afterAll(() => testDb?.dispose());

  /** Whether another session waits for an advisory lock now. */
  async function someoneWaitsForAdvisoryLock(): Promise<boolean> {
    const rows = (await db.execute(sql`
      select 1 from pg_stat_activity
      where pid <> pg_backend_pid() and datname = current_database()
        and wait_event_type = 'Lock' and wait_event = 'advisory'`)) as unknown as unknown[];
    return rows.length > 0;
  }

  /** Whether another session comes to wait for an advisory lock, within a bounded wait. */
  async function waitUntilWaitingForAdvisoryLock(): Promise<boolean> {
    for (let i = 0; i < 200; i++) {
      if (await someoneWaitsForAdvisoryLock()) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  }

  /**
   * Another image of `ws` takes the workspace's default lock (and its own row) and holds it, its
   * plan waiting, until `release`; `holder` settles once it has let go.
   */
  async function holdDefaultLock(ws: string): Promise<{ release: () => void; holder: Promise<unknown> }> {
    const holderImage = await images.insert(newImage(ws));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = images.updateLocked(ws, holderImage.id, true, async () => {
      locked();
      await released;
      return { name: "held", updatedAt: T1 };
    });
    await Promise.race([isLocked, holder]);
    return { release, holder };
  }

  it.each([
    ["an update to default", (ws: string, id: string) => images.update(ws, id, 1, { isDefault: true, updatedAt: T1 })],
    ["a locked update that takes the default", (ws: string, id: string) => images.updateLocked(ws, id, true, async () => ({ name: "renamed", updatedAt: T1 }))],
    [
      "a locked update whose plan makes it the default",
      (ws: string, id: string) => images.updateLocked(ws, id, false, async () => ({ isDefault: true, updatedAt: T1 })),
    ],
    ["an insert of a default", (ws: string) => images.insert(newImage(ws, { isDefault: true }))],
  ] as const)("%s waits while another change holds the lock", async (_, change) => {
    const ws = freshWorkspaceId();
    const { release, holder } = await holdDefaultLock(ws);
    const image = await images.insert(newImage(ws));

    let waiting = false;
    let changed;
    try {
      const pending = change(ws, image.id);
      waiting = await waitUntilWaitingForAdvisoryLock();
      release();
      changed = await pending;
    } finally {
      release();
      await holder;
    }

    expect(waiting).toBe(true);
    expect(changed).toBeTruthy();
  });

  it.each([
    ["an update that leaves the default alone", (ws: string, id: string) => images.update(ws, id, 1, { name: "renamed", isDefault: false, updatedAt: T1 })],
    [
      "a locked update that neither takes nor makes the default",
      (ws: string, id: string) => images.updateLocked(ws, id, false, async () => ({ name: "renamed", isDefault: false, updatedAt: T1 })),
    ],
  ] as const)("%s goes ahead while another change holds the lock", async (_, change) => {
    const ws = freshWorkspaceId();
    const { release, holder } = await holdDefaultLock(ws);
    const image = await images.insert(newImage(ws));

    let outcome: "finished" | "waited for the lock" | "neither";
    let changed;
    try {
      const pending = change(ws, image.id);
      let finished = false;
      const settled = pending.then(
        () => (finished = true),
        () => (finished = true),
      );
      outcome = "neither";
      // Bounded: 200 checks, 25 ms apart at most; ends as soon as the change settles.
      for (let i = 0; i < 200 && !finished; i++) {
        if (await someoneWaitsForAdvisoryLock()) {
          outcome = "waited for the lock";
          break;
        }
        await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 25))]);
      }
      if (finished) outcome = "finished";
      release();
      changed = await pending;
    } finally {
      release();
      await holder;
    }

    expect(outcome).toBe("finished");
    expect(changed).toStrictEqual({ ...image, name: "renamed", updatedAt: T1, version: 2 });
  });
});
