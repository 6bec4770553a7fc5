import type { NewSandboxImage, SandboxImagePatch, SandboxImageRecord } from "../db/records.js";
import { RegistryNotLinkableError, type SandboxImageRepository } from "../db/repositories/sandbox-images.js";
import { DomainError } from "../errors.js";
import { sameRegistry } from "../registry-protocol/hosts.js";
import { parseImageAndTag, referenceServer, type ImageReference } from "../registry-protocol/reference.js";
import { withNormalisedName } from "./names.js";
import { decodeCursor, toPage } from "./pagination.js";

/** What the service needs of the repository. */
export type SandboxImageRepositoryPort = Pick<SandboxImageRepository, "insert" | "findById" | "list" | "update" | "delete">;

export interface SandboxImageServiceDeps {
  images: SandboxImageRepositoryPort;
  /** A deleted or foreign registry is not linkable; a live one must serve the image's host. */
  registries: { findById(workspaceId: string, id: string): Promise<{ id: string; server: string } | null> };
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

  /** The image and tag must parse, and a linked registry must exist here and serve the image's host. */
  /** A registry deleted between the check above and the write: the same answer as a missing one. */
  async function linking<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof RegistryNotLinkableError) throw registryNotFound();
      throw err;
    }
  }

  async function assertPullable(
    workspaceId: string,
    target: { image: string; tag: string; registryId: string | null },
  ): Promise<void> {
    const ref = parseReferenceOrThrow(target.image, target.tag);
    if (target.registryId === null) return;
    const registry = await deps.registries.findById(workspaceId, target.registryId);
    if (!registry) throw registryNotFound();
    assertSameHost(ref, registry.server);
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

    async update(workspaceId: string, id: string, input: UpdateSandboxImageInput): Promise<SandboxImageRecord> {
      input = withNormalisedName(input);
      const current = await images.findById(workspaceId, id);
      if (!current) return notFound();
      if (input.image !== undefined || input.tag !== undefined || input.registryId !== undefined) {
        await assertPullable(workspaceId, {
          image: input.image ?? current.image,
          tag: input.tag ?? current.tag,
          registryId: input.registryId !== undefined ? input.registryId : current.registryId,
        });
      }
      // The repository derives `reference` from image and tag, so a change of either sends both.
      const { image, tag, ...rest } = input;
      const reference = image !== undefined || tag !== undefined ? { image: image ?? current.image, tag: tag ?? current.tag } : {};
      const patch: SandboxImagePatch = { ...rest, ...reference, updatedAt: deps.now() };
      return (await linking(() => images.update(workspaceId, id, patch))) ?? notFound();
    },

    async delete(workspaceId: string, id: string): Promise<void> {
      if (!(await images.delete(workspaceId, id))) notFound();
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

/**
 * The registry's credentials are for its server only: linking them to an image on another host
 * would either leak them to that host or silently pull anonymously.
 */
export function assertSameHost(ref: Pick<ImageReference, "domain" | "port">, registryServer: string, status?: number): void {
  const imageHost = referenceServer(ref);
  if (sameRegistry(imageHost, registryServer)) return;
  throw new DomainError(
    "registry_host_mismatch",
    `The image is hosted on ${imageHost}, but the registry's server is ${registryServer}: ` +
      `link a registry for ${imageHost}, or use an image from ${registryServer}.`,
    { fieldErrors: [{ path: "/body/registry_id", message: "the registry's server must serve the image's host" }], extensions: { image_host: imageHost, registry_server: registryServer }, status: status },
  );
}
