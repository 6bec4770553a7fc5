import type { components, Readable } from "@modbox/sdk/openapi";
import type { RegistryRecord, SandboxImageRecord } from "./db/records.js";

/**
 * The one place records become API shapes. Fields are listed one by one, never spread, so a
 * column added to a record (a ciphertext, say) cannot reach a response by accident.
 */
export type RegistryDto = Readable<components["schemas"]["Registry"]>;
export type SandboxImageDto = Readable<components["schemas"]["SandboxImage"]>;

export function toRegistryDto(r: RegistryRecord): RegistryDto {
  return {
    id: r.id,
    name: r.name,
    server: r.server,
    username: r.username,
    email: r.email,
    enabled: r.enabled,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

export function toSandboxImageDto(i: SandboxImageRecord): SandboxImageDto {
  return {
    id: i.id,
    workspace_id: i.workspaceId,
    name: i.name,
    image: i.image,
    tag: i.tag,
    registry_id: i.registryId,
    registry_name: i.registryName,
    description: i.description,
    enabled: i.enabled,
    is_default: i.isDefault,
    memory_mb: i.memoryMb,
    ttl_seconds: i.ttlSeconds,
    readiness_port: i.readinessPort,
    created_at: i.createdAt.toISOString(),
    updated_at: i.updatedAt.toISOString(),
  };
}

export function toListDto<T, D>(page: { items: T[]; nextCursor: string | null }, map: (item: T) => D) {
  return { data: page.items.map(map), next_cursor: page.nextCursor };
}
