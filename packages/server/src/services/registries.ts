import type { Cipher } from "@modbox/crypto";
import type { components, Writable } from "@modbox/sdk/openapi";
import { classifyDatabaseError } from "../db/errors.js";
import type { NewRegistry, RegistryForUse, RegistryPatch, RegistryRecord, VerificationState } from "../db/records.js";
import { REGISTRY_NAME_UNIQUE, type RegistryRepository } from "../db/repositories/registries.js";
import { DomainError } from "../errors.js";
import { apiHost, normaliseServer, serverScheme } from "../registry-protocol/hosts.js";
import { NO_INSECURE_REGISTRIES, type InsecureRegistries } from "../registry-protocol/insecure-registries.js";
import { decodeCursor, toPage } from "./pagination.js";
import { credentialContext } from "./credential-context.js";
import type { EncryptionBudget } from "./encryption-budget.js";
import { GCP_USERNAME } from "../cloud/gcp-service-account.js";
import { ACR_USERNAME } from "../cloud/azure-service-principal.js";
import {
  acrServerOrThrow,
  awsEcrSecretOf,
  azureSecretOf,
  checkCredentialFieldsFit,
  ecrServerOrThrow,
  gcpKeyOrThrow,
  googleServerOrThrow,
} from "./cloud-registry-input.js";
import { BASIC_ONLY, type RegistryAuth, type RegistryToAuthenticate } from "./registry-auth.js";
import { checkCaCertificate, normaliseServerOrThrow, providerWarningsOrThrow } from "./registry-input.js";
import type { LoginOutcome, RegistryProber } from "./registry-prober.js";
import {
  afterLostRace,
  assertPrecondition,
  concurrentModification,
  MAX_WRITE_ATTEMPTS,
  OPTIMISTIC_ATTEMPTS,
  satisfies,
  type VersionPrecondition,
} from "./preconditions.js";
import { withNormalisedName } from "./names.js";

/** What the service needs of the repository (tests hand it a fake). */
export type RegistryRepositoryPort = Pick<
  RegistryRepository,
  | "insert"
  | "insertClaimingKey"
  | "findById"
  | "findForUse"
  | "list"
  | "update"
  | "updateLocked"
  | "recordVerification"
  | "softDeleteUnlessLinked"
>;

export interface RegistryServiceDeps {
  registries: RegistryRepositoryPort;
  cipher: Pick<Cipher, "encrypt" | "decrypt" | "keyIdOf">;
  budget: EncryptionBudget;
  prober: Pick<RegistryProber, "verifyLogin">;
  /** The credential a registry logs in with (a cloud one's token); default: `basic` only. */
  registryAuth?: RegistryAuth;
  /** The hosts whose `http://` servers may be saved (`MODBOX_INSECURE_REGISTRIES`); default none. */
  insecureRegistries?: InsecureRegistries;
  newId: () => string;
  now: () => Date;
}

export type CreateRegistryInput = Writable<components["schemas"]["RegistryCreate"]>;
export type UpdateRegistryInput = Writable<components["schemas"]["RegistryUpdate"]>;

export interface ListRegistriesInput {
  limit: number;
  cursor?: string;
  enabled?: boolean;
  server?: string;
}

/**
 * A fresh login's outcome: what `POST /registries/{id}/verify` answers, and what it and
 * `?verify=true` store on the registry (the same fields, `detail` included).
 */
export type VerificationResult = VerificationState;

export type RegistryService = ReturnType<typeof createRegistryService>;

const LINKED_IDS_LISTED = 100;

/**
 * Registry credentials: the password is encrypted here, before anything reaches the database,
 * bound to its workspace and registry id so a ciphertext moved to another row fails to decrypt.
 * It is decrypted only to log in to the registry (verification) or to re-check provider rules
 * when the server or username changes without a new password.
 */
export function createRegistryService(deps: RegistryServiceDeps) {
  const { registries, cipher } = deps;
  const insecureRegistries = deps.insecureRegistries ?? NO_INSECURE_REGISTRIES;
  const registryAuth = deps.registryAuth ?? BASIC_ONLY;

  /** Encrypts a password for its row, once the active key's nonce budget allows one more. */
  async function seal(workspaceId: string, registryId: string, password: string) {
    await deps.budget.take();
    const passwordCiphertext = cipher.encrypt(password, credentialContext(workspaceId, registryId));
    return { passwordCiphertext, passwordKeyId: cipher.keyIdOf(passwordCiphertext) };
  }

  /**
   * Logs in to the registry with the credential it is used with: the stored one (`basic`), or the
   * token a cloud credential is exchanged for; a refused exchange is the verification's outcome.
   */
  async function login(registry: RegistryToAuthenticate & { caCertificate: string | null }, secret: string) {
    const derived = await registryAuth.derive(registry, secret);
    if (!derived.ok) return exchangeFailed(derived.reason, deps.now());
    const { server, caCertificate } = registry;
    const outcome = await deps.prober.verifyLogin(
      { host: apiHost(server), scheme: serverScheme(server), ...(caCertificate ? { caCertPem: caCertificate } : {}) },
      { username: derived.credential.username, password: derived.credential.password },
    );
    return toVerification(outcome, deps.now());
  }

  /** A disabled registry is never used, not even to verify on save. */
  function assertUsable(enabled: boolean): void {
    if (!enabled) {
      throw new DomainError("registry_disabled", "This registry is disabled; enable it before using it (verify=true contacts the registry).");
    }
  }

  /** `?verify=true`: a registry that refuses the credential refuses the write; other outcomes are recorded. */
  function refuseInvalid(result: VerificationResult): VerificationResult {
    if (result.verificationErrorCode === "invalid_credentials") {
      throw new DomainError("invalid_credentials", "The registry refused these credentials; nothing was saved.");
    }
    return result;
  }

  /** A new registry's row, its rules checked (and, with `verify`, its credential proven), its password sealed. */
  async function newRow(workspaceId: string, input: CreateRegistryInput, verify: boolean): Promise<NewRegistry> {
    input = withNormalisedName(input);
    const server = normaliseServerOrThrow(input.server, insecureRegistries);
    checkCaCertificate(input.ca_certificate);
    // What each type stores: basic its username and password (checked against the provider's
    // rules); aws_ecr its credential document, used as `AWS` (the username ECR tokens go with).
    // gcp_service_account its JSON key, used as `oauth2accesstoken` (the username of Google's tokens).
    // azure_service_principal its tenant, client id and secret, used as ACR's all-zero GUID user.
    const credential =
      input.auth_type === "azure_service_principal"
        ? {
            authType: "azure_service_principal" as const,
            server: acrServerOrThrow(server),
            username: ACR_USERNAME,
            // Stryker disable next-line StringLiteral: azureSecretOf tells only "update" apart; any other mode is a create
            secret: azureSecretOf(input, "create")!,
            warnings: [],
          }
        : input.auth_type === "aws_ecr"
        ? {
            authType: "aws_ecr" as const,
            server: ecrServerOrThrow(server),
            username: "AWS",
            // Stryker disable next-line StringLiteral: awsEcrSecretOf tells only "update" apart; any other mode is a create
            secret: awsEcrSecretOf(input, "create")!,
            warnings: [],
          }
        : input.auth_type === "gcp_service_account"
        ? {
            authType: "gcp_service_account" as const,
            server: googleServerOrThrow(server),
            username: GCP_USERNAME,
            secret: gcpKeyOrThrow(input.gcp_service_account_key)!,
            warnings: [],
          }
        : {
            authType: "basic" as const,
            server,
            username: input.username,
            secret: input.password,
            warnings: providerWarningsOrThrow(server, input.username, input.password),
          };
    const caCertificate = input.ca_certificate ?? null;
    if (verify) assertUsable(input.enabled ?? true);
    const id = deps.newId();
    const verification = verify
      ? refuseInvalid(await login({ id, workspaceId, ...credential, caCertificate }, credential.secret))
      : undefined;
    const now = deps.now();
    return {
      id,
      workspaceId,
      name: input.name,
      server: credential.server,
      username: credential.username,
      email: input.email ?? null,
      enabled: input.enabled ?? true,
      authType: credential.authType,
      caCertificate,
      warnings: credential.warnings,
      ...verification,
      createdAt: now,
      updatedAt: now,
      ...(await seal(workspaceId, id, credential.secret)),
    };
  }

  return {
    async create(workspaceId: string, input: CreateRegistryInput, options: { verify?: boolean } = {}): Promise<RegistryRecord> {
      const row = await newRow(workspaceId, input, options.verify ?? false);
      return withNameConflict(() => registries.insert(row));
    },

    /**
     * A create under an `Idempotency-Key` (never with `?verify=true`, whose login must not run
     * twice for two concurrent retries): the registry and the key with its answer are written
     * together, or neither. Null, and nothing written, when the key exists already.
     */
    async createClaimingKey(
      workspaceId: string,
      input: CreateRegistryInput,
      key: Parameters<RegistryRepository["insertClaimingKey"]>[1],
    ) {
      const row = await newRow(workspaceId, input, false);
      return withNameConflict(() => registries.insertClaimingKey(row, key));
    },

    async get(workspaceId: string, id: string): Promise<RegistryRecord> {
      return (await registries.findById(workspaceId, id)) ?? notFound();
    },

    async list(workspaceId: string, input: ListRegistriesInput) {
      // The filter is compared with stored (normalised) servers: the server itself and those
      // under it (`ghcr.io` finds `ghcr.io/acme` too). A value that does not normalise names
      // no stored server: an empty page, without a query.
      const normalised = input.server === undefined ? undefined : normaliseServer(input.server);
      const server = normalised === undefined ? undefined : normalised.ok ? normalised.server : input.server;
      const filters = { enabled: input.enabled, server };
      const beforeId = decodeCursor(input.cursor, filters);
      if (normalised?.ok === false) return toPage([], input.limit, filters);
      const rows = await registries.list(workspaceId, { ...filters, beforeId, limit: input.limit + 1 });
      return toPage(rows, input.limit, filters);
    },

    /**
     * Applies a partial update, checking every rule against the row it replaces: the row is
     * read, the rules run on it, and the write is a compare-and-set on its `version`. If another
     * write committed in between, the row is read and checked again, so no stored registry ever
     * breaks a rule that a create with the same values would (an ECR server with a username
     * other than `AWS`, say). With `ifMatch`, a version other than the one named is a 412.
     */
    async update(
      workspaceId: string,
      id: string,
      input: UpdateRegistryInput,
      options: { verify?: boolean; ifMatch?: VersionPrecondition } = {},
    ): Promise<RegistryRecord> {
      input = withNormalisedName(input);
      const {
        password,
        ca_certificate: caInput,
        aws_access_key_id,
        aws_secret_access_key,
        aws_role_arn,
        gcp_service_account_key,
        azure_tenant_id,
        azure_client_id,
        azure_client_secret,
        ...fields
      } = input;
      const server = fields.server === undefined ? undefined : normaliseServerOrThrow(fields.server, insecureRegistries);
      // Stryker disable next-line ConditionalExpression: checkCaCertificate passes an absent CA itself
      if (caInput !== undefined) checkCaCertificate(caInput);
      // The new stored secret, if any: a basic password, or a whole new cloud credential.
      const newSecret =
        password ??
        awsEcrSecretOf({ aws_access_key_id, aws_secret_access_key, aws_role_arn }, "update") ??
        gcpKeyOrThrow(gcp_service_account_key) ??
        azureSecretOf({ azure_tenant_id, azure_client_id, azure_client_secret }, "update");
      // Sealed once: the new password does not depend on the row it replaces.
      let sealed: Awaited<ReturnType<typeof seal>> | undefined;

      /** The patch for this row, its rules checked on it (throws when one fails). */
      async function plan(current: RegistryRecord, stored: RegistryForUse | null): Promise<RegistryPatch> {
        assertPrecondition(options.ifMatch, current.version, "registry");
        checkCredentialFieldsFit(current.authType, input);
        if (server !== undefined && current.authType === "aws_ecr") ecrServerOrThrow(server);
        if (server !== undefined && current.authType === "gcp_service_account") googleServerOrThrow(server);
        if (server !== undefined && current.authType === "azure_service_principal") acrServerOrThrow(server);
        const patch: RegistryPatch = { ...fields, updatedAt: deps.now() };
        if (server !== undefined) patch.server = server;
        if (caInput !== undefined) patch.caCertificate = caInput;

        // Sending a field with its current value (e.g. `GHCR.io` for `ghcr.io`) changes nothing.
        const credentialChanged =
          (server !== undefined && server !== current.server) ||
          (fields.username !== undefined && fields.username !== current.username) ||
          (caInput !== undefined && caInput !== current.caCertificate) ||
          newSecret !== undefined;
        if (options.verify) assertUsable(fields.enabled ?? current.enabled);
        if (credentialChanged || options.verify) {
          const next = {
            id,
            workspaceId,
            authType: current.authType,
            server: server ?? current.server,
            username: fields.username ?? current.username,
            caCertificate: caInput !== undefined ? caInput : current.caCertificate,
          };
          const secret = newSecret ?? decryptStored(stored ?? notFound());
          patch.warnings = current.authType === "basic" ? providerWarningsOrThrow(next.server, next.username, secret) : [];
          const verification = options.verify ? refuseInvalid(await login(next, secret)) : undefined;
          // A proof about the old credential says nothing about the new one.
          Object.assign(patch, verification ?? neverVerified());
        }
        if (newSecret !== undefined) Object.assign(patch, (sealed ??= await seal(workspaceId, id, newSecret)));
        return patch;
      }

      // Optimistic first: read, check, compare-and-set. A lost race is usually a one-off; a
      // row that keeps moving is then written under its lock, where the check cannot go stale.
      // `?verify=true` logs in to the registry while planning, which must not happen under a
      // row lock (pulls mark the row used), so it stays optimistic, with backoff.
      const attempts = options.verify ? MAX_WRITE_ATTEMPTS : OPTIMISTIC_ATTEMPTS;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        // The sealed password is read only when it may have to be decrypted: to re-check provider
        // rules or log in with the stored credential. A new password (rotation) makes it moot, so
        // the registry is then read without its ciphertext (`findById`: live rows only, as below).
        let stored: RegistryForUse | null = null;
        let current: RegistryRecord | null;
        if (newSecret === undefined) {
          stored = await registries.findForUse(workspaceId, id);
          current = stored?.deletedAt ? null : stored;
        } else {
          current = await registries.findById(workspaceId, id);
        }
        if (!current) return notFound();
        const patch = await plan(current, stored);
        const updated = await withNameConflict(() => registries.update(workspaceId, id, current.version, patch));
        if (updated) return updated;
        // The row moved on (or went away) since it was read: read it again and re-check.
        await afterLostRace(attempt);
      }
      if (options.verify) throw concurrentModification("registry");
      return (await withNameConflict(() => registries.updateLocked(workspaceId, id, (row) => plan(row, row)))) ?? notFound();
    },

    /**
     * Logs in with the stored credentials and records the outcome, only while that credential is
     * still the stored one: if it was replaced during the login, the new one is checked instead
     * (a key rotation's re-seal of the same password is not a new credential). A disabled
     * registry is never used.
     */
    async verify(workspaceId: string, id: string): Promise<VerificationResult> {
      let checked: { server: string; username: string; caCertificate: string | null; password: string } | undefined;
      let result: VerificationResult | undefined;
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const current = await registries.findForUse(workspaceId, id);
        if (!current || current.deletedAt) return notFound();
        const password = decryptStored(current);
        // Stryker disable next-line LogicalOperator: result and checked are set together, so !result and !checked agree
        if (!result || !checked || !sameCredential(checked, { ...current, password })) {
          assertUsable(current.enabled);
          checked = { server: current.server, username: current.username, caCertificate: current.caCertificate, password };
          result = await login(current, password);
        }
        if (await registries.recordVerification(workspaceId, id, current, result)) return result;
      }
      throw concurrentModification("registry");
    },

    /**
     * Deletes the registry and destroys its credential. A registry that images still use is kept
     * unless `force`: a silent delete would turn their next pull into a surprise.
     */
    async delete(workspaceId: string, id: string, options: { force?: boolean; ifMatch?: VersionPrecondition } = {}): Promise<void> {
      const { ifMatch } = options;
      const result = await registries.softDeleteUnlessLinked(workspaceId, id, deps.now(), {
        force: options.force ?? false,
        listLimit: LINKED_IDS_LISTED,
        ...(ifMatch !== undefined && { ifVersion: (version: number) => satisfies(ifMatch, version) }),
      });
      if (result.outcome === "not_found") return notFound();
      if (result.outcome === "version_mismatch") return assertPrecondition(ifMatch, result.version, "registry");
      if (result.outcome === "in_use") {
        throw new DomainError(
          "registry_in_use",
          `${result.count} sandbox image(s) still use this registry; link them to another registry first, or delete with force=true.`,
          { extensions: { linked_image_ids: result.ids, linked_image_count: result.count } },
        );
      }
    },
  };

  function decryptStored(registry: RegistryForUse): string {
    if (!registry.passwordCiphertext) return notFound();
    return cipher.decrypt(registry.passwordCiphertext, credentialContext(registry.workspaceId, registry.id));
  }
}

export function toVerification(outcome: LoginOutcome, checkedAt: Date): VerificationResult {
  switch (outcome.status) {
    case "verified":
      return { verificationStatus: "verified", verificationCheckedAt: checkedAt, verificationErrorCode: null, verificationDetail: null };
    case "unverified":
      return {
        verificationStatus: "unverified",
        verificationCheckedAt: checkedAt,
        verificationErrorCode: outcome.reason,
        verificationDetail: "The registry allows anonymous access, so these credentials cannot be proven.",
      };
    case "failed":
      return {
        verificationStatus: "failed",
        verificationCheckedAt: checkedAt,
        verificationErrorCode: outcome.code,
        verificationDetail: outcome.detail,
      };
  }
}

function sameCredential(
  a: { server: string; username: string; caCertificate: string | null; password: string },
  b: { server: string; username: string; caCertificate: string | null; password: string },
): boolean {
  return a.server === b.server && a.username === b.username && a.caCertificate === b.caCertificate && a.password === b.password;
}

/** A cloud credential the provider would not exchange: the login could not even be tried. */
function exchangeFailed(reason: string, checkedAt: Date): VerificationResult {
  return {
    verificationStatus: "failed",
    verificationCheckedAt: checkedAt,
    verificationErrorCode: "exchange_failed",
    verificationDetail: `The registry's stored credential could not be exchanged for a token: ${reason}`,
  };
}

function neverVerified(): VerificationState {
  return { verificationStatus: "unverified", verificationCheckedAt: null, verificationErrorCode: null, verificationDetail: null };
}

function notFound(): never {
  throw new DomainError("not_found", "Registry not found.");
}

async function withNameConflict<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const db = classifyDatabaseError(err);
    if (db.kind === "unique_violation" && (db.constraint === undefined || db.constraint === REGISTRY_NAME_UNIQUE)) {
      throw new DomainError("registry_name_taken", "A registry with this name already exists in the workspace.");
    }
    throw err;
  }
}
