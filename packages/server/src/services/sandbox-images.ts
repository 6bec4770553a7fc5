import type { NewSandboxImage, SandboxImagePatch, SandboxImageRecord } from "../db/records.js";
import { RegistryNotLinkableError, type SandboxImageRepository } from "../db/repositories/sandbox-images.js";
import { DomainError } from "../errors.js";
import { parseImageAndTag, type ImageReference } from "../registry-protocol/reference.js";
import { withNormalisedName } from "./names.js";
import { registryMismatch } from "./registry-mismatch.js";
import { decodeCursor, toPage } from "./pagination.js";
import { afterLostRace, assertPrecondition, concurrentModification, OPTIMISTIC_ATTEMPTS, type VersionPrecondition } from "./preconditions.js";

/** The live registry of a workspace, or null. */
type RegistryLookup = (workspaceId: string, id: string) => Promise<{ id: string; server: string } | null>;

/** What the service needs of the repository. */
export type SandboxImageRepositoryPort = Pick<SandboxImageRepository, "insert" | "findById" | "list" | "update" | "updateLocked" | "delete">;

export interface SandboxImageServiceDeps {
  images: SandboxImageRepositoryPort;
  /** A deleted or foreign registry is not linkable; a live one must serve the image (host and repository prefix). */
  registries: { findById: RegistryLookup };
  newId: () => string;
  now: () => Date;
}

/** A new image: its name and image, the rest optional (contract defaults below). */
export type CreateSandboxImageInput = Pick<NewSandboxImage, "name" | "image"> &
  Partial<
    Pick<
      NewSandboxImage,
      "tag" | "registryId" | "description" | "enabled" | "isDefault" | "memoryMb" | "ttlSeconds" | "readinessPort"
    >
  >;

export type UpdateSandboxImageInput = Partial<CreateSandboxImageInput>;

export interface ListSandboxImagesInput {
  limit: number;
  cursor?: string;
  registryId?: string;
  enabled?: boolean;
}

export type SandboxImageService = ReturnType<typeof createSandboxImageService>;

/** Defaults of the contract, applied here so they hold whatever the transport did. */
const DEFAULTS = { tag: "latest", enabled: true, isDefault: false, memoryMb: 1024 } as const;

export function createSandboxImageService(deps: SandboxImageServiceDeps) {
  const { images } = deps;

  /** A registry deleted between the check below and the write: the same answer as a missing one. */
  async function linking<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof RegistryNotLinkableError) throw registryNotFound();
      throw err;
    }
  }

  /** The image and tag must parse, and a linked registry must exist here and serve the image. */
  async function assertPullable(
    workspaceId: string,
    target: { image: string; tag: string; registryId: string | null },
    findRegistry: RegistryLookup = deps.registries.findById,
  ): Promise<void> {
    const ref = parseReferenceOrThrow(target.image, target.tag);
    if (target.registryId === null) return;
    const registry = await findRegistry(workspaceId, target.registryId);
    if (!registry) throw registryNotFound();
    assertServesImage(ref, registry.server);
  }

  return {
    async create(workspaceId: string, input: CreateSandboxImageInput): Promise<SandboxImageRecord> {
      input = withNormalisedName(input);
      await assertPullable(workspaceId, {
        image: input.image,
        tag: input.tag ?? DEFAULTS.tag,
        registryId: input.registryId ?? null,
      });
      const now = deps.now();
      return linking(() => images.insert({
        id: deps.newId(),
        workspaceId,
        name: input.name,
        image: input.image,
        tag: input.tag ?? DEFAULTS.tag,
        registryId: input.registryId ?? null,
        description: input.description ?? null,
        enabled: input.enabled ?? DEFAULTS.enabled,
        isDefault: input.isDefault ?? DEFAULTS.isDefault,
        memoryMb: input.memoryMb ?? DEFAULTS.memoryMb,
        ttlSeconds: input.ttlSeconds ?? null,
        readinessPort: input.readinessPort ?? null,
        createdAt: now,
        updatedAt: now,
      }));
    },

    async get(workspaceId: string, id: string): Promise<SandboxImageRecord> {
      return (await images.findById(workspaceId, id)) ?? notFound();
    },

    async list(workspaceId: string, input: ListSandboxImagesInput) {
      const filters = { registry_id: input.registryId, enabled: input.enabled };
      const beforeId = decodeCursor(input.cursor, filters);
      const rows = await images.list(workspaceId, {
        registryId: input.registryId,
        enabled: input.enabled,
        beforeId,
        limit: input.limit + 1,
      });
      return toPage(rows, input.limit, filters);
    },

    /**
     * Applies a partial update, checking the reference rules against the row it replaces, with a
     * compare-and-set on its `version` (re-read and re-checked when another write got there
     * first). With `ifMatch`, a version other than the one named is a 412.
     */
    async update(
      workspaceId: string,
      id: string,
      input: UpdateSandboxImageInput,
      options: { ifMatch?: VersionPrecondition } = {},
    ): Promise<SandboxImageRecord> {
      input = withNormalisedName(input);
      /** The patch for this row, its rules checked on it (throws when one fails). */
      // Under the row lock, `findRegistry` reads through the locking transaction: a read from the
      // pool there could wait for a connection that the locked writers themselves hold.
      async function plan(current: SandboxImageRecord, findRegistry?: RegistryLookup): Promise<SandboxImagePatch> {
        assertPrecondition(options.ifMatch, current.version, "sandbox image");
        if (input.image !== undefined || input.tag !== undefined || input.registryId !== undefined) {
          await assertPullable(workspaceId, {
            image: input.image ?? current.image,
            tag: input.tag ?? current.tag,
            registryId: input.registryId !== undefined ? input.registryId : current.registryId,
          }, findRegistry);
        }
        // The repository derives `reference` from image and tag, so a change of either sends both.
        const { image, tag, ...rest } = input;
        const reference = image !== undefined || tag !== undefined ? { image: image ?? current.image, tag: tag ?? current.tag } : {};
        return { ...rest, ...reference, updatedAt: deps.now() };
      }

      // Optimistic first (read, check, compare-and-set); a row that keeps moving is then written
      // under its lock, where the check cannot go stale (see registries.ts).
      for (let attempt = 1; attempt <= OPTIMISTIC_ATTEMPTS; attempt++) {
        const current = await images.findById(workspaceId, id);
        if (!current) return notFound();
        const patch = await plan(current);
        const updated = await linking(() => images.update(workspaceId, id, current.version, patch));
        if (updated) return updated;
        // The row moved on (or went away) since it was read: read it again and re-check.
        await afterLostRace(attempt);
      }
      return (await linking(() => images.updateLocked(workspaceId, id, input.isDefault === true, plan))) ?? notFound();
    },

    async delete(workspaceId: string, id: string, options: { ifMatch?: VersionPrecondition } = {}): Promise<void> {
      const versions = options.ifMatch === "any" ? undefined : options.ifMatch;
      if (await images.delete(workspaceId, id, versions)) return;
      // Nothing deleted: missing (404), or at a version If-Match did not name (412).
      const current = await images.findById(workspaceId, id);
      if (!current) return notFound();
      assertPrecondition(options.ifMatch, current.version, "sandbox image");
      // It matches now: it moved back and forth between the delete and this read. Try once more.
      if (!(await images.delete(workspaceId, id, versions))) throw concurrentModification("sandbox image");
    },
  };
}

function notFound(): never {
  throw new DomainError("not_found", "Sandbox image not found.");
}

function registryNotFound(): DomainError {
  return new DomainError("registry_not_found", "registry_id does not name a registry of this workspace.", {
    fieldErrors: [
      { path: "/body/registry_id", message: "must name an existing registry of this workspace" },
    ],
  });
}

function parseReferenceOrThrow(image: string, tag: string): ImageReference & { tag: string } {
  const parsed = parseImageAndTag(image, tag);
  if (!parsed.ok) {
    throw new DomainError("validation_failed", "The image reference does not follow the Docker reference grammar.", {
      fieldErrors: [
        { path: `/body/${parsed.field}`, message: parsed.reason },
      ],
    });
  }
  return parsed.ref;
}

/** A linked registry must serve the image: its host, and its repository prefix if it has one (see registry-mismatch.ts). */
function assertServesImage(ref: Pick<ImageReference, "domain" | "port" | "repository">, registryServer: string): void {
  const mismatch = registryMismatch(ref, registryServer);
  if (mismatch === null) return;
  throw new DomainError("registry_host_mismatch", mismatch.detail, {
    fieldErrors: [
      { path: "/body/registry_id", message: "the registry's server must serve the image: its host, and the image's repository under the server's path if it has one" },
    ],
    extensions: mismatch.extensions,
  });
}
