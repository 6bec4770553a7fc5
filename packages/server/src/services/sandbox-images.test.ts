import { FIXTURE_TIME as T0, IMAGE_DEFAULTS } from "@modbox/testkit/fixtures";
import { rejectionOf } from "@modbox/testkit/rejections";
import { describe, expect, it } from "vitest";
import type { NewSandboxImage, SandboxImageListQuery, SandboxImagePatch, SandboxImageRecord } from "../db/records.js";
import { RegistryNotLinkableError } from "../db/repositories/sandbox-images.js";
import { DomainError } from "../errors.js";
import { createSandboxImageService, type SandboxImageRepositoryPort } from "./sandbox-images.js";

const WS = "ws_test";
const IMAGE_ID = "0190a000-0000-7000-8000-0000000000a1";
const REGISTRY_ID = "0190a000-0000-7000-8000-0000000000b1";
const NOW = new Date("2025-02-01T00:00:00.000Z");


/** A stored image; the one place the record's shape is spelled out in these tests. */
function storedImage(fields: Partial<SandboxImageRecord> = {}): SandboxImageRecord {
  return {
    id: IMAGE_ID,
    workspaceId: WS,
    name: "app",
    image: "registry.example.com/team/app",
    tag: "v1",
    reference: "registry.example.com/team/app:v1",
    registryId: REGISTRY_ID,
    registryName: "prod",
    ...IMAGE_DEFAULTS,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...fields,
  };
}

/**
 * In-memory ports: a repository holding at most one image that records its writes (and can
 * refuse the link as a concurrent registry delete would), and a registry lookup that knows one
 * registry of this workspace and records what it was asked.
 */
function setup(
  options: {
    stored?: SandboxImageRecord | null;
    linkRace?: boolean;
    rows?: SandboxImageRecord[];
    /** Every compare-and-set loses, as on a row other writers keep moving. */
    hot?: boolean;
    /** The server of the one registry (default `registry.example.com`). */
    registryServer?: string;
    /** A failure of the database itself, thrown by every insert and update. */
    writeFault?: Error;
    /** What each delete answers in turn (default: whether the row is there at a named version). */
    deleteResults?: boolean[];
  } = {},
) {
  const registry = { id: REGISTRY_ID, server: options.registryServer ?? "registry.example.com" };
  const stored = options.stored === undefined ? storedImage() : options.stored;
  const inserts: NewSandboxImage[] = [];
  const patches: SandboxImagePatch[] = [];
  const lists: SandboxImageListQuery[] = [];
  const lookups: string[] = [];
  const locked: boolean[] = [];
  /** The versions each delete was conditioned on (undefined: any). */
  const deletes: (readonly number[] | undefined)[] = [];
  const images: SandboxImageRepositoryPort = {
    async insert(row) {
      inserts.push(row);
      if (options.writeFault) throw options.writeFault;
      if (options.linkRace) throw new RegistryNotLinkableError("registry deleted meanwhile");
      // The repository derives the pull reference; these tests do not read it.
      return { ...row, reference: `${row.image}:${row.tag}`, registryName: row.registryId ? "prod" : null, version: 1 };
    },
    async findById(workspaceId, id) {
      return stored && workspaceId === stored.workspaceId && id === stored.id ? stored : null;
    },
    async list(_workspaceId, query) {
      lists.push(query);
      return (options.rows ?? []).slice(0, query.limit);
    },
    async update(workspaceId, id, expectedVersion, patch) {
      patches.push(patch);
      if (options.writeFault) throw options.writeFault;
      if (options.linkRace) throw new RegistryNotLinkableError("registry deleted meanwhile");
      const here =
        stored && workspaceId === stored.workspaceId && id === stored.id && expectedVersion === stored.version && !options.hot;
      return here ? { ...stored, ...patch, version: stored.version + 1 } : null;
    },
    async updateLocked(workspaceId, id, takesDefault, plan) {
      locked.push(takesDefault);
      if (!stored || workspaceId !== stored.workspaceId || id !== stored.id) return null;
      const patch = await plan(stored, async (ws, registryId) => {
        lookups.push(`locked:${registryId}`);
        return ws === WS && registryId === REGISTRY_ID ? registry : null;
      });
      patches.push(patch);
      return { ...stored, ...patch, version: stored.version + 1 };
    },
    async delete(workspaceId, id, versions) {
      deletes.push(versions);
      if (options.deleteResults) return options.deleteResults[deletes.length - 1] ?? false;
      return Boolean(stored && workspaceId === stored.workspaceId && id === stored.id && (versions === undefined || versions.includes(stored.version)));
    },
  };
  const service = createSandboxImageService({
    images,
    registries: {
      async findById(workspaceId, id) {
        lookups.push(id);
        return workspaceId === WS && id === REGISTRY_ID ? registry : null;
      },
    },
    newId: () => IMAGE_ID,
    now: () => NOW,
  });
  return { service, inserts, patches, lists, lookups, locked, deletes };
}

/** The refusal a rejected promise carries, for its code, status and extensions. */
const domainError = (promise: Promise<unknown>) => rejectionOf(promise, DomainError);

describe("sandbox image service: create", () => {
  it("applies the contract's defaults to what was not given", async () => {
    const { service, inserts, lookups } = setup();

    await service.create(WS, { name: "public", image: "alpine" });

    expect(inserts).toEqual([
      {
        id: IMAGE_ID,
        workspaceId: WS,
        name: "public",
        image: "alpine",
        tag: "latest",
        registryId: null,
        ...IMAGE_DEFAULTS,
        createdAt: NOW,
        updatedAt: NOW,
      },
    ]);
    // A public image names no registry: nothing to look up.
    expect(lookups).toEqual([]);
  });

  it("links a registry of this workspace that serves the image's host", async () => {
    const { service, inserts, lookups } = setup();

    const image = await service.create(WS, { name: "app", image: "registry.example.com/team/app", tag: "v1", registryId: REGISTRY_ID });

    expect(lookups).toEqual([REGISTRY_ID]);
    expect(inserts[0]).toMatchObject({ registryId: REGISTRY_ID, tag: "v1" });
    expect(image.registryName).toBe("prod");
  });

  it("links an image that spells the registry's default port (registry.example.com:443/…), keeping the image as written", async () => {
    const { service, inserts } = setup();

    await service.create(WS, { name: "app", image: "registry.example.com:443/team/app", tag: "v1", registryId: REGISTRY_ID });

    expect(inserts[0]).toMatchObject({ image: "registry.example.com:443/team/app", registryId: REGISTRY_ID });
    const err = await domainError(service.create(WS, { name: "app", image: "registry.example.com:80/team/app", registryId: REGISTRY_ID }));
    expect(err.code).toBe("registry_host_mismatch");
  });

  it("refuses a reference outside the Docker grammar as validation_failed on its field, writing nothing", async () => {
    const { service, inserts } = setup();

    const byImage = await domainError(service.create(WS, { name: "bad", image: "Upper/Case" }));
    const byTag = await domainError(service.create(WS, { name: "bad", image: "alpine", tag: "not a tag" }));

    expect(byImage.code).toBe("validation_failed");
    expect(byImage.fieldErrors?.map((e) => e.path)).toEqual(["/body/image"]);
    expect(byTag.fieldErrors?.map((e) => e.path)).toEqual(["/body/tag"]);
    expect(inserts).toEqual([]);
  });

  it("refuses a registry that is not this workspace's as registry_not_found on registry_id", async () => {
    const { service, inserts } = setup();

    const err = await domainError(service.create(WS, { name: "app", image: "registry.example.com/team/app", registryId: "0190a000-0000-7000-8000-0000000000ff" }));

    expect(err.code).toBe("registry_not_found");
    expect(err.fieldErrors?.map((e) => e.path)).toEqual(["/body/registry_id"]);
    expect(inserts).toEqual([]);
  });

  it("refuses a registry for another host (422 at link time), naming both hosts", async () => {
    const { service, inserts } = setup();

    const err = await domainError(service.create(WS, { name: "app", image: "ghcr.io/team/app", registryId: REGISTRY_ID }));

    expect([err.code, err.status]).toEqual(["registry_host_mismatch", undefined]);
    expect(err.extensions).toEqual({ image_host: "ghcr.io", registry_server: "registry.example.com" });
    expect(inserts).toEqual([]);
  });

  it("a registry with a repository prefix links the images under it, at a path-segment boundary", async () => {
    const { service, inserts } = setup({ registryServer: "registry.example.com/team" });

    await service.create(WS, { name: "app", image: "registry.example.com/team/app", registryId: REGISTRY_ID });
    await service.create(WS, { name: "deep", image: "registry.example.com:443/team/sub/app", registryId: REGISTRY_ID });
    await service.create(WS, { name: "itself", image: "registry.example.com/team", registryId: REGISTRY_ID });
    expect(inserts.map((row) => row.image)).toEqual(["registry.example.com/team/app", "registry.example.com:443/team/sub/app", "registry.example.com/team"]);

    const err = await domainError(service.create(WS, { name: "app", image: "registry.example.com/teamwork/app", registryId: REGISTRY_ID }));
    expect([err.code, err.status]).toEqual(["registry_host_mismatch", undefined]);
    expect(err.extensions).toEqual({ image_host: "registry.example.com", registry_server: "registry.example.com/team" });
    expect(err.detail).toContain("The image registry.example.com/teamwork/app is not under the registry's server registry.example.com/team");
    expect(err.fieldErrors?.map((e) => e.path)).toEqual(["/body/registry_id"]);
    expect(inserts).toHaveLength(3);
  });

  it("a registry deleted between the check and the write answers like a missing one", async () => {
    const { service } = setup({ linkRace: true });

    const err = await domainError(service.create(WS, { name: "app", image: "registry.example.com/team/app", registryId: REGISTRY_ID }));

    expect(err.code).toBe("registry_not_found");
  });
});

describe("sandbox image service: update", () => {
  it("a change that does not touch the reference or registry re-checks nothing", async () => {
    const { service, patches, lookups } = setup();

    const updated = await service.update(WS, IMAGE_ID, { name: "renamed", memoryMb: 2048 });

    expect(lookups).toEqual([]);
    expect(patches).toEqual([{ name: "renamed", memoryMb: 2048, updatedAt: NOW }]);
    expect(updated.name).toBe("renamed");
  });

  it("a new tag is checked against the stored image and its stored registry", async () => {
    const { service, lookups } = setup();

    await service.update(WS, IMAGE_ID, { tag: "v2" });
    expect(lookups).toEqual([REGISTRY_ID]);

    const err = await domainError(service.update(WS, IMAGE_ID, { tag: "not a tag" }));
    expect(err.fieldErrors?.map((e) => e.path)).toEqual(["/body/tag"]);
  });

  it("a new image on another host is refused against the stored registry", async () => {
    const { service, patches } = setup();

    const err = await domainError(service.update(WS, IMAGE_ID, { image: "ghcr.io/team/app" }));

    expect(err.code).toBe("registry_host_mismatch");
    expect(patches).toEqual([]);
  });

  it("a new image outside the stored registry's repository prefix is refused, inside it is written", async () => {
    const { service, patches } = setup({ registryServer: "registry.example.com/team", stored: storedImage({ image: "registry.example.com/team/app" }) });

    const err = await domainError(service.update(WS, IMAGE_ID, { image: "registry.example.com/other/app" }));
    expect(err.code).toBe("registry_host_mismatch");
    expect(patches).toEqual([]);

    await service.update(WS, IMAGE_ID, { image: "registry.example.com/team/other" });
    expect(patches).toEqual([expect.objectContaining({ image: "registry.example.com/team/other" })]);
  });

  it("unlinking the registry (null) is allowed for any host, with no lookup", async () => {
    const { service, lookups, patches } = setup();

    await service.update(WS, IMAGE_ID, { image: "ghcr.io/team/app", registryId: null });

    expect(lookups).toEqual([]);
    // A new image is written with the stored tag: the repository derives the reference from both.
    expect(patches).toEqual([{ image: "ghcr.io/team/app", tag: "v1", registryId: null, updatedAt: NOW }]);
  });

  it("a missing image is not_found, before any check or write", async () => {
    const { service, lookups, patches } = setup({ stored: null });

    expect((await domainError(service.update(WS, IMAGE_ID, { tag: "v2" }))).code).toBe("not_found");
    expect(lookups).toEqual([]);
    expect(patches).toEqual([]);
  });

  it("a registry deleted between the check and the write answers registry_not_found", async () => {
    const { service } = setup({ linkRace: true });

    expect((await domainError(service.update(WS, IMAGE_ID, { registryId: REGISTRY_ID }))).code).toBe("registry_not_found");
  });
});

describe("sandbox image service: get, list, delete", () => {
  it("get and delete answer not_found for another workspace's image", async () => {
    const { service } = setup();

    expect((await service.get(WS, IMAGE_ID)).id).toBe(IMAGE_ID);
    expect((await domainError(service.get("ws_other", IMAGE_ID))).code).toBe("not_found");
    await service.delete(WS, IMAGE_ID);
    expect((await domainError(service.delete("ws_other", IMAGE_ID))).code).toBe("not_found");
  });

  it("list reads one row past the page to know whether there is a next one, and pages on with its cursor", async () => {
    const rows = ["3", "2", "1"].map((n) => storedImage({ id: `0190a000-0000-7000-8000-00000000000${n}` }));
    const { service, lists } = setup({ rows });

    const first = await service.list(WS, { limit: 2, enabled: true });
    expect(first.items.map((i) => i.id)).toEqual([rows[0]!.id, rows[1]!.id]);
    expect(first.nextCursor).not.toBeNull();

    await service.list(WS, { limit: 2, enabled: true, cursor: first.nextCursor! });
    expect(lists).toEqual([
      { registryId: undefined, enabled: true, beforeId: undefined, limit: 3 },
      { registryId: undefined, enabled: true, beforeId: rows[1]!.id, limit: 3 },
    ]);
  });

  it("a cursor issued for other filters is invalid_cursor, before any read", async () => {
    const rows = ["3", "2", "1"].map((n) => storedImage({ id: `0190a000-0000-7000-8000-00000000000${n}` }));
    const { service, lists } = setup({ rows });
    const { nextCursor } = await service.list(WS, { limit: 2, enabled: true });

    const err = await domainError(service.list(WS, { limit: 2, enabled: false, cursor: nextCursor! }));

    expect(err.code).toBe("invalid_cursor");
    expect(lists).toHaveLength(1);
  });
});

describe("sandbox image service: concurrent writes", () => {
  it("after two lost compare-and-sets, writes under the row lock, re-checking the rules on the locked row", async () => {
    const { service, patches, locked, lookups } = setup({ hot: true });

    const updated = await service.update(WS, IMAGE_ID, { tag: "v2", isDefault: true });

    expect(updated).toMatchObject({ tag: "v2", isDefault: true, version: 2 });
    expect(locked).toEqual([true]);
    // Planned three times (two optimistic attempts, then under the lock), each checking the link.
    expect(patches).toHaveLength(3);
    // Under the lock, the registry is read through the locking transaction, not the pool.
    expect(lookups).toEqual([REGISTRY_ID, REGISTRY_ID, `locked:${REGISTRY_ID}`]);
  });

  it("If-Match is checked on the row it replaces: a version other than the one named is 412, nothing written", async () => {
    const { service, patches } = setup();
    const err = await domainError(service.update(WS, IMAGE_ID, { tag: "v2" }, { ifMatch: [7] }));
    expect(err.code).toBe("precondition_failed");
    expect(patches).toEqual([]);
    await expect(service.update(WS, IMAGE_ID, { tag: "v2" }, { ifMatch: [1] })).resolves.toMatchObject({ version: 2 });
  });
});

describe("sandbox image service: what each refusal says", () => {
  const REGISTRY_NOT_FOUND = {
    code: "registry_not_found",
    detail: "registry_id does not name a registry of this workspace.",
    fieldErrors: [{ path: "/body/registry_id", message: "must name an existing registry of this workspace" }],
  };

  it("a missing image: not_found, \"Sandbox image not found.\"", async () => {
    const { service } = setup();

    const err = await domainError(service.get("ws_other", IMAGE_ID));

    expect([err.code, err.detail]).toEqual(["not_found", "Sandbox image not found."]);
  });

  it("a reference outside the grammar: validation_failed, naming the grammar", async () => {
    const { service } = setup();

    const err = await domainError(service.create(WS, { name: "bad", image: "Upper/Case" }));

    expect([err.code, err.detail]).toEqual(["validation_failed", "The image reference does not follow the Docker reference grammar."]);
  });

  it("a registry of another workspace: registry_not_found on registry_id, saying it must be this workspace's", async () => {
    const { service } = setup();

    const err = await domainError(service.create(WS, { name: "app", image: "registry.example.com/team/app", registryId: "0190a000-0000-7000-8000-0000000000ff" }));

    expect(err).toMatchObject(REGISTRY_NOT_FOUND);
  });

  it("a registry deleted between the check and the write: the same registry_not_found", async () => {
    const { service } = setup({ linkRace: true });

    const err = await domainError(service.create(WS, { name: "app", image: "registry.example.com/team/app", registryId: REGISTRY_ID }));

    expect(err).toMatchObject(REGISTRY_NOT_FOUND);
  });

  it("a registry for another host: registry_host_mismatch on registry_id, saying what the server must serve", async () => {
    const { service } = setup();

    const err = await domainError(service.create(WS, { name: "app", image: "ghcr.io/team/app", registryId: REGISTRY_ID }));

    expect(err.fieldErrors).toEqual([
      {
        path: "/body/registry_id",
        message: "the registry's server must serve the image: its host, and the image's repository under the server's path if it has one",
      },
    ]);
  });
});

describe("sandbox image service: failures that are not refusals", () => {
  it("a database failure on create or update is passed through as it is, not taken for a lost registry", async () => {
    const fault = new Error("connection terminated");
    const { service } = setup({ writeFault: fault });

    await expect(service.create(WS, { name: "app", image: "registry.example.com/team/app", registryId: REGISTRY_ID })).rejects.toBe(fault);
    await expect(service.update(WS, IMAGE_ID, { name: "renamed" })).rejects.toBe(fault);
  });
});

describe("sandbox image service: update rules", () => {
  it("a new registry alone is checked: one of another workspace is registry_not_found, nothing written", async () => {
    const { service, lookups, patches } = setup();

    const err = await domainError(service.update(WS, IMAGE_ID, { registryId: "0190a000-0000-7000-8000-0000000000ff" }));

    expect(err.code).toBe("registry_not_found");
    expect(lookups).toEqual(["0190a000-0000-7000-8000-0000000000ff"]);
    expect(patches).toEqual([]);
  });

  it("If-Match naming another version: 412 saying the sandbox image is now at its version", async () => {
    const { service } = setup({ stored: storedImage({ version: 4 }) });

    const err = await domainError(service.update(WS, IMAGE_ID, { name: "renamed" }, { ifMatch: [3] }));

    expect([err.code, err.detail]).toEqual([
      "precondition_failed",
      "The sandbox image changed since the version in If-Match (it is now at version 4); read it again, then retry.",
    ]);
  });

  it("a hot row written under its lock takes the default flag only when the update sets it", async () => {
    const { service, locked } = setup({ hot: true });

    await service.update(WS, IMAGE_ID, { tag: "v2" });
    await service.update(WS, IMAGE_ID, { isDefault: false });

    expect(locked).toEqual([false, false]);
  });
});

describe("sandbox image service: delete", () => {
  it("deletes in one statement, at any version without If-Match or with `*`, else at the versions named", async () => {
    const { service, deletes } = setup();

    await service.delete(WS, IMAGE_ID);
    await service.delete(WS, IMAGE_ID, { ifMatch: "any" });
    await service.delete(WS, IMAGE_ID, { ifMatch: [1, 2] });

    expect(deletes).toEqual([undefined, undefined, [1, 2]]);
  });

  it("an image at a version If-Match did not name is 412, saying its version now, and is kept", async () => {
    const { service, deletes } = setup();

    const err = await domainError(service.delete(WS, IMAGE_ID, { ifMatch: [7] }));

    expect([err.code, err.detail]).toEqual([
      "precondition_failed",
      "The sandbox image changed since the version in If-Match (it is now at version 1); read it again, then retry.",
    ]);
    expect(deletes).toEqual([[7]]);
  });

  it("an image that moved away and back between the delete and the re-read is deleted on a second try", async () => {
    const { service, deletes } = setup({ deleteResults: [false, true] });

    await service.delete(WS, IMAGE_ID, { ifMatch: [1] });

    expect(deletes).toEqual([[1], [1]]);
  });

  it("an image that keeps moving is 409 concurrent_modification after the second try", async () => {
    const { service, deletes } = setup({ deleteResults: [false, false] });

    const err = await domainError(service.delete(WS, IMAGE_ID, { ifMatch: [1] }));

    expect([err.code, err.detail]).toEqual([
      "concurrent_modification",
      "The sandbox image kept changing while this request was applied; read it again, then retry.",
    ]);
    expect(deletes).toHaveLength(2);
  });
});
