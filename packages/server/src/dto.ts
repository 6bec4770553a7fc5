import type { components, Readable } from "@modbox/sdk/openapi";
import type { ApiTokenRecord, RegistryRecord, SandboxImageRecord, VerificationState } from "./db/records.js";
import type { PullService } from "./services/pulls.js";

/**
 * The one place records become API shapes. Fields are listed one by one, never spread, so a
 * column added to a record (a ciphertext, say) cannot reach a response by accident.
 */
export type RegistryDto = Readable<components["schemas"]["Registry"]>;
export type SandboxImageDto = Readable<components["schemas"]["SandboxImage"]>;
export type VerificationDto = Readable<components["schemas"]["Verification"]>;
export type PullCheckDto = Readable<components["schemas"]["PullCheck"]>;
export type PullCredentialsDto = Readable<components["schemas"]["PullCredentials"]>;
export type TokenDto = Readable<components["schemas"]["Token"]>;
export type TokenCreatedDto = Readable<components["schemas"]["TokenCreated"]>;

export function toRegistryDto(r: RegistryRecord): RegistryDto {
  return {
    id: r.id,
    name: r.name,
    server: r.server,
    username: r.username,
    email: r.email,
    enabled: r.enabled,
    auth_type: r.authType,
    provider: r.provider,
    ca_certificate: r.caCertificate,
    verification: toVerificationDto(r),
    warnings: r.warnings.map((w) => ({ code: w.code, field: w.field, message: w.message })),
    last_used_at: r.lastUsedAt?.toISOString() ?? null,
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
    reference: i.reference,
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

/**
 * A verification, stored (a registry's) or fresh (`POST /verify`): one mapping, so both show the
 * same fields, `detail` included.
 */
export function toVerificationDto(v: VerificationState): VerificationDto {
  return {
    status: v.verificationStatus,
    checked_at: v.verificationCheckedAt?.toISOString() ?? null,
    error_code: v.verificationErrorCode,
    detail: v.verificationDetail,
  };
}

export function toPullCheckDto(c: Awaited<ReturnType<PullService["check"]>>): PullCheckDto {
  return {
    image_id: c.imageId,
    reference: c.reference,
    pullable: c.pullable,
    digest: c.digest,
    media_type: c.mediaType,
    error_code: c.errorCode,
    detail: c.detail,
    checked_at: c.checkedAt.toISOString(),
  };
}

/** The one response that carries a decrypted credential (provisioner scope only). */
export function toPullCredentialsDto(c: Awaited<ReturnType<PullService["credentials"]>>): PullCredentialsDto {
  return {
    image_id: c.imageId,
    reference: c.reference,
    registry: c.registry,
    auth: c.auth,
    expires_at: c.expiresAt?.toISOString() ?? null,
  };
}

export function toListDto<T, D>(page: { items: T[]; nextCursor: string | null }, map: (item: T) => D) {
  return { data: page.items.map(map), next_cursor: page.nextCursor };
}

/** A stored token: never the token, never its hash (the record has neither). */
export function toTokenDto(t: ApiTokenRecord): TokenDto {
  return {
    id: t.id,
    name: t.name,
    scope: t.scope,
    all_workspaces: t.workspaceIds === null,
    workspaces: t.workspaceIds === null ? null : [...t.workspaceIds],
    created_at: t.createdAt.toISOString(),
    created_by: t.createdBy,
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
    revoked_at: t.revokedAt?.toISOString() ?? null,
  };
}

/** The answer of `POST /tokens`: the one response that carries a token, once. */
export function toTokenCreatedDto(created: { token: string; record: ApiTokenRecord }): TokenCreatedDto {
  return { ...toTokenDto(created.record), token: created.token };
}
