import type {
  NewSandboxImage,
  SandboxImageListQuery,
  SandboxImagePatch,
  SandboxImageRecord,
} from "../db/records.js";
import { DomainError } from "../errors.js";
import { decodeCursor, toPage } from "./pagination.js";

export interface SandboxImageRepositoryPort {
  insert(row: NewSandboxImage): Promise<SandboxImageRecord>;
  findById(workspaceId: string, id: string): Promise<SandboxImageRecord | null>;
  list(workspaceId: string, query: SandboxImageListQuery): Promise<SandboxImageRecord[]>;
  update(workspaceId: string, id: string, patch: SandboxImagePatch): Promise<SandboxImageRecord | null>;
  delete(workspaceId: string, id: string): Promise<boolean>;
}

export interface SandboxImageServiceDeps {
  images: SandboxImageRepositoryPort;
  /** Only existence in the workspace matters here: a deleted or foreign registry is not linkable. */
  registries: { findById(workspaceId: string, id: string): Promise<{ id: string } | null> };
  newId: () => string;
  now: () => Date;
}

export interface CreateSandboxImageInput {
  name: string;
  image: string;
  tag?: string;
  registryId?: string | null;
  description?: string | null;
  enabled?: boolean;
  isDefault?: boolean;
  memoryMb?: number;
  ttlSeconds?: number | null;
  readinessPort?: number | null;
}

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

  async function assertLinkable(workspaceId: string, registryId: string | null | undefined): Promise<void> {
    if (registryId == null) return;
    if (!(await deps.registries.findById(workspaceId, registryId))) {
      throw new DomainError("registry_not_found", "registry_id does not name a registry of this workspace.", [
        { path: "/body/registry_id", message: "must name an existing registry of this workspace" },
      ]);
    }
  }

  return {
    async create(workspaceId: string, input: CreateSandboxImageInput): Promise<SandboxImageRecord> {
      await assertLinkable(workspaceId, input.registryId);
      const now = deps.now();
      return images.insert({
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
      });
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
      if (!(await images.findById(workspaceId, id))) notFound();
      await assertLinkable(workspaceId, input.registryId);
      return (await images.update(workspaceId, id, { ...input, updatedAt: deps.now() })) ?? notFound();
    },

    async delete(workspaceId: string, id: string): Promise<void> {
      if (!(await images.delete(workspaceId, id))) notFound();
    },
  };
}

function notFound(): never {
  throw new DomainError("not_found", "Sandbox image not found.");
}
