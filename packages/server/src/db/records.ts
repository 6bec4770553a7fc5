/**
 * The shapes the repositories hand to services, derived from the drizzle schema so that a column
 * is written once. They are not API shapes: `dto.ts` maps them. A registry record never carries
 * its ciphertext; only `RegistryForUse` (the point of use) does.
 */
import type { ProviderName } from "../registry-protocol/providers.js";
import type { apiTokens, registries, sandboxImages } from "./schema.js";

export type { CredentialWarning } from "./schema.js";

type RegistryRow = typeof registries.$inferSelect;
type SandboxImageRow = typeof sandboxImages.$inferSelect;
type ApiTokenRow = typeof apiTokens.$inferSelect;

/** Fields `K` of `T` made optional. */
type WithOptional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type VerificationStatus = RegistryRow["verificationStatus"];

export type RegistryAuthType = RegistryRow["authType"];

/** The outcome of the last login against the registry, with its explanation. */
export type VerificationState = Pick<
  RegistryRow,
  "verificationStatus" | "verificationCheckedAt" | "verificationErrorCode" | "verificationDetail"
>;

/**
 * A live registry: every column but the sealed password, its key id and `deletedAt`.
 * `provider` is never null here: the repository writes it with the server, and rows written
 * around the app are filled at start (see `registries.provider`). `version` moves with every
 * write of the API (not with bookkeeping: `lastUsedAt`, a recorded verification, a key
 * rotation's re-seal); updates compare and set it.
 */
export type RegistryRecord = Omit<RegistryRow, "passwordCiphertext" | "passwordKeyId" | "deletedAt" | "provider"> & {
  provider: ProviderName;
};

/** Registry fields that start as "none yet" (basic, no CA, no warnings, never verified or used). */
type OptionalOnInsert = "authType" | "caCertificate" | "warnings" | "lastUsedAt" | keyof VerificationState;

/** A registry to insert; `provider` is derived from `server` by the repository, `version` starts at 1. */
export type NewRegistry = WithOptional<Omit<RegistryRecord, "provider" | "version">, OptionalOnInsert> & {
  /** Envelope from @modbox/crypto, bound to { workspace_id, registry_id }. */
  passwordCiphertext: string;
  passwordKeyId: string;
};

/** The fields `update` may change (`provider` follows `server`), and when. */
export type RegistryPatch = Partial<
  Pick<NewRegistry, "name" | "server" | "username" | "email" | "enabled" | "caCertificate" | "warnings" | "passwordCiphertext" | "passwordKeyId">
> &
  Partial<VerificationState> & { updatedAt: Date };

/** A registry as the point of use sees it: tombstones included, with the sealed password. */
export type RegistryForUse = RegistryRecord & Pick<RegistryRow, "deletedAt" | "passwordCiphertext">;

export interface RegistryListQuery {
  limit: number;
  /** Keyset: only ids strictly before this one (ids are UUIDv7, newest first). */
  beforeId?: string;
  enabled?: boolean;
  /** A normalised server: registries whose server is this one or lies under it (`ghcr.io` → `ghcr.io/acme`). */
  server?: string;
}

/**
 * An image with the name of its registry (null when unlinked or the registry was deleted).
 * `reference` is never null here, as `RegistryRecord.provider`.
 */
export type SandboxImageRecord = Omit<SandboxImageRow, "reference"> & {
  reference: string;
  registryName: string | null;
};

/** An image to insert; `reference` is derived from `image` and `tag` by the repository, `version` starts at 1. */
export type NewSandboxImage = Omit<SandboxImageRecord, "registryName" | "reference" | "version">;

/**
 * The fields `update` may change. `image` and `tag` travel together: `reference` is derived from
 * the pair, so a change of either one sends both.
 */
export type SandboxImagePatch = Partial<
  Pick<
    NewSandboxImage,
    "name" | "registryId" | "description" | "enabled" | "isDefault" | "memoryMb" | "ttlSeconds" | "readinessPort"
  >
> &
  ({ image?: undefined; tag?: undefined } | Pick<NewSandboxImage, "image" | "tag">) & { updatedAt: Date };

export interface SandboxImageListQuery {
  limit: number;
  beforeId?: string;
  registryId?: string;
  enabled?: boolean;
}

export type TokenScope = ApiTokenRow["scope"];

/** A token as services see it: never its hash. */
export type ApiTokenRecord = Omit<ApiTokenRow, "tokenHash">;

/**
 * A token to insert; `tokenHash` is the SHA-256 of the whole token, hex (the token itself is never
 * stored). `createdBy` absent: not recorded (null).
 */
export type NewApiToken = WithOptional<
  Pick<ApiTokenRow, "id" | "name" | "scope" | "workspaceIds" | "tokenHash" | "createdAt" | "createdBy">,
  "createdBy"
>;

export interface ApiTokenListQuery {
  limit: number;
  /** Keyset: only ids strictly before this one (ids are UUIDv7, newest first). */
  beforeId?: string;
  /** true: revoked tokens only; false: active ones only; absent: both. */
  revoked?: boolean;
}
