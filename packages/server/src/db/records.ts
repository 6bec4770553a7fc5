/**
 * The shapes the repositories hand to services. They are not API shapes: `dto.ts` maps them.
 * A registry record never carries its ciphertext; only `RegistryForUse` (the point of use) does.
 */

import type { components } from "@modbox/sdk/openapi";

export type VerificationStatus = "verified" | "failed" | "unverified";

export interface CredentialWarning {
  code: string;
  field: "server" | "username" | "password";
  message: string;
}

/** The outcome of the last login against the registry. */
export interface VerificationState {
  verificationStatus: VerificationStatus;
  verificationCheckedAt: Date | null;
  /** Only the codes the contract's `Verification.error_code` enum lists (or null). */
  verificationErrorCode: components["schemas"]["Verification"]["error_code"];
}

export interface RegistryRecord extends VerificationState {
  id: string;
  workspaceId: string;
  name: string;
  server: string;
  username: string;
  email: string | null;
  enabled: boolean;
  caCertificate: string | null;
  warnings: CredentialWarning[];
  lastUsedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A registry to insert; the optional fields default to "none yet" (no CA, no warnings, never verified or used). */
export interface NewRegistry
  extends Omit<RegistryRecord, "caCertificate" | "warnings" | "lastUsedAt" | keyof VerificationState>,
    Partial<Pick<RegistryRecord, "caCertificate" | "warnings" | "lastUsedAt"> & VerificationState> {
  /** Envelope from @modbox/crypto, bound to { workspace_id, registry_id }. */
  passwordCiphertext: string;
  passwordKeyId: string;
}

export interface RegistryPatch extends Partial<VerificationState> {
  name?: string;
  server?: string;
  username?: string;
  email?: string | null;
  enabled?: boolean;
  caCertificate?: string | null;
  warnings?: CredentialWarning[];
  passwordCiphertext?: string;
  passwordKeyId?: string;
  updatedAt: Date;
}

/** A registry as the point of use sees it: tombstones included, with the sealed password. */
export interface RegistryForUse extends RegistryRecord {
  deletedAt: Date | null;
  /** null once deleted. */
  passwordCiphertext: string | null;
}

export interface RegistryListQuery {
  limit: number;
  /** Keyset: only ids strictly before this one (ids are UUIDv7, newest first). */
  beforeId?: string;
  enabled?: boolean;
  server?: string;
}

export interface SandboxImageRecord {
  id: string;
  workspaceId: string;
  name: string;
  image: string;
  tag: string;
  registryId: string | null;
  /** Name of the linked registry; null when unlinked or the registry was deleted. */
  registryName: string | null;
  description: string | null;
  enabled: boolean;
  isDefault: boolean;
  memoryMb: number;
  ttlSeconds: number | null;
  readinessPort: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewSandboxImage = Omit<SandboxImageRecord, "registryName">;

export type SandboxImagePatch = Partial<
  Pick<
    SandboxImageRecord,
    | "name"
    | "image"
    | "tag"
    | "registryId"
    | "description"
    | "enabled"
    | "isDefault"
    | "memoryMb"
    | "ttlSeconds"
    | "readinessPort"
  >
> & { updatedAt: Date };

export interface SandboxImageListQuery {
  limit: number;
  beforeId?: string;
  registryId?: string;
  enabled?: boolean;
}

export type TokenScope = "workspace" | "provisioner";

export interface ApiTokenRecord {
  id: string;
  name: string;
  scope: TokenScope;
  /** null: granted every workspace. */
  workspaceIds: string[] | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiToken {
  id: string;
  name: string;
  scope: TokenScope;
  workspaceIds: string[] | null;
  /** SHA-256 of the whole token, hex. The token itself is never stored. */
  tokenHash: string;
  createdAt: Date;
}
