import type { components } from "@modbox/sdk/openapi";
import { DecryptionError, type Cipher } from "@modbox/crypto";
import type { Principal } from "../auth/authenticator.js";
import { workspaceAccessDenial } from "../auth/workspace-access.js";
import type { PullCredentialRefusal } from "../db/pull-credential-outcomes.js";
import type { PullCredentialEvent, PullImage, PullRegistry, PullResolution } from "../db/repositories/pulls.js";
import { DomainError } from "../errors.js";
import { apiHost, serverPath, serverScheme } from "../registry-protocol/hosts.js";
import { parseImageAndTag, pullReference, referenceServer, type ImageReference } from "../registry-protocol/reference.js";
import { credentialContext } from "./credential-context.js";
import { registryMismatch } from "./registry-mismatch.js";
import { BASIC_ONLY, type RegistryAuth } from "./registry-auth.js";
import type { RegistryProber } from "./registry-prober.js";
import { runtimeAuth } from "./runtime-auth.js";

/** Why an image cannot be pulled: the contract's `PullCheck.error_code` enum. */
export type PullCheckCode = NonNullable<components["schemas"]["PullCheck"]["error_code"]>;

/** The pull feature's storage (db/repositories/pulls.ts): the one read, and the audit writes. */
export interface PullRepositoryPort {
  /** The image and its linked registry (tombstones included) in one read; null when not found. */
  resolve(workspaceId: string, imageId: string): Promise<PullResolution | null>;
  /** Audits a refusal. */
  recordRefusal(event: PullCredentialEvent & { outcome: PullCredentialRefusal }): Promise<void>;
  /** Audits an `issued` hand-out and marks its registry (if any) used, in one write. */
  recordIssued(event: Omit<PullCredentialEvent, "outcome">): Promise<void>;
}

export interface PullServiceDeps {
  pulls: PullRepositoryPort;
  /** Marks a registry used after a pull check (pull credentials do it with their audit event). */
  registries: { touchLastUsed(workspaceId: string, id: string, at: Date): Promise<void> };
  cipher: Pick<Cipher, "decrypt">;
  prober: Pick<RegistryProber, "checkPull">;
  /** The credential a registry is used with (a cloud one's token); default: `basic` only. */
  registryAuth?: RegistryAuth;
  newId: () => string;
  now: () => Date;
}

/**
 * Why an image cannot be pulled with its registry right now (before any network call). Each code
 * is at once a pull check's answer, a pull-credentials problem code, and an audited outcome.
 */
type Refusal = {
  code: Extract<PullCheckCode & PullCredentialRefusal, "image_disabled" | "registry_disabled" | "registry_deleted" | "registry_host_mismatch">;
  detail: string;
  extensions?: Record<string, string>;
};

interface Resolved {
  image: PullImage;
  ref: ImageReference & { tag: string };
  reference: string;
  registry: PullRegistry | null;
  refusal: Refusal | null;
}

export type PullService = ReturnType<typeof createPullService>;

/**
 * The point of use: the only place a registry password is decrypted to leave the server.
 * Disabled, deleted and mismatched registries are refused before anything is decrypted, and a
 * deleted registry never degrades into an anonymous pull.
 */
export function createPullService(deps: PullServiceDeps) {
  const registryAuth = deps.registryAuth ?? BASIC_ONLY;

  /** The prefix of every exchange failure's detail; the provider's reason follows. */
  const exchangeFailed = (reason: string) => `The registry's stored credential could not be exchanged for a token: ${reason}`;
  async function resolve(workspaceId: string, imageId: string): Promise<Resolved> {
    const found = await deps.pulls.resolve(workspaceId, imageId);
    if (!found) throw new DomainError("not_found", "Sandbox image not found.");
    const { image } = found;
    const parsed = parseImageAndTag(image.image, image.tag);
    // Every write validates the reference, so a stored one always parses.
    if (!parsed.ok) throw new Error("stored sandbox image has an unparseable reference");
    const ref = parsed.ref;
    const base = { image, ref, reference: pullReference(ref) };
    if (!image.enabled) {
      return { ...base, registry: null, refusal: { code: "image_disabled", detail: "This sandbox image is disabled." } };
    }
    if (image.registryId === null) return { ...base, registry: null, refusal: null };
    const { registry } = found;
    if (!registry || registry.deletedAt) {
      return {
        ...base,
        registry: null,
        refusal: { code: "registry_deleted", detail: "The registry linked to this image was deleted; link another registry." },
      };
    }
    if (!registry.enabled) {
      return {
        ...base,
        registry,
        refusal: { code: "registry_disabled", detail: "The registry linked to this image is disabled; enable it or link another registry." },
      };
    }
    // The registry's server may have changed since the image was linked to it.
    const mismatch = registryMismatch(ref, registry.server);
    if (mismatch) {
      return { ...base, registry, refusal: { code: "registry_host_mismatch", ...mismatch } };
    }
    return { ...base, registry, refusal: null };
  }

  function decryptPassword(registry: PullRegistry): string {
    if (!registry.passwordCiphertext) throw new DecryptionError("malformed");
    return deps.cipher.decrypt(registry.passwordCiphertext, credentialContext(registry.workspaceId, registry.id));
  }

  return {
    /** Can the linked credentials pull this image? A result, never an error, except a missing image (404). */
    async check(workspaceId: string, imageId: string) {
      const resolved = await resolve(workspaceId, imageId);
      const checkedAt = deps.now();
      const answer = (fields: { digest?: string; mediaType?: string | null; errorCode?: PullCheckCode; detail?: string }) => ({
        imageId,
        reference: resolved.reference,
        pullable: fields.digest !== undefined,
        digest: fields.digest ?? null,
        mediaType: fields.mediaType ?? null,
        errorCode: fields.errorCode ?? null,
        detail: fields.detail ?? null,
        checkedAt,
      });
      if (resolved.refusal) return answer({ errorCode: resolved.refusal.code, detail: resolved.refusal.detail });

      const { registry, ref } = resolved;
      let credentials = null;
      if (registry) {
        let secret: string;
        try {
          secret = decryptPassword(registry);
        } catch (err) {
          if (!(err instanceof DecryptionError)) throw err;
          return answer({ errorCode: "credential_undecryptable", detail: "The stored credential cannot be decrypted with the configured keys." });
        }
        const derived = await registryAuth.derive(registry, secret);
        if (!derived.ok) return answer({ errorCode: "exchange_failed", detail: exchangeFailed(derived.reason) });
        credentials = { username: derived.credential.username, password: derived.credential.password };
      }
      const server = registry?.server ?? referenceServer(ref);
      const outcome = await deps.prober.checkPull(
        {
          host: apiHost(server),
          scheme: serverScheme(server),
          ...(registry?.caCertificate ? { caCertPem: registry.caCertificate } : {}),
        },
        ref.repository,
        ref.digest ?? ref.tag,
        credentials,
      );
      if (registry) await deps.registries.touchLastUsed(workspaceId, registry.id, checkedAt);
      return outcome.ok
        ? answer({ digest: outcome.digest, mediaType: outcome.mediaType })
        : answer({ errorCode: outcome.code, detail: outcome.detail });
    },

    /**
     * The provisioner's credentials in every runtime format, for a `provisioner` token granted
     * the workspace. Each call, granted or refused (scope and workspace grant included), is
     * recorded before it answers: no hand-out goes unaudited.
     */
    async credentials(principal: Principal, workspaceId: string, imageId: string) {
      const { tokenId } = principal;
      /** Audits a refusal that happened before the image was resolved (so no registry is named). */
      const refuseUnresolved = (outcome: PullCredentialRefusal) =>
        deps.pulls.recordRefusal({ id: deps.newId(), workspaceId, imageId, registryId: null, tokenId, outcome, createdAt: deps.now() });

      const denial = workspaceAccessDenial(principal, workspaceId, "provisioner");
      if (denial) {
        await refuseUnresolved(denial.code);
        throw denial;
      }
      let resolved: Resolved;
      try {
        resolved = await resolve(workspaceId, imageId);
      } catch (err) {
        if (err instanceof DomainError && err.code === "not_found") await refuseUnresolved("not_found");
        throw err;
      }
      const at = deps.now();
      const event = { workspaceId, imageId, registryId: resolved.image.registryId, tokenId, createdAt: at };
      const refuse = (outcome: PullCredentialRefusal) => deps.pulls.recordRefusal({ ...event, id: deps.newId(), outcome });
      if (resolved.refusal) {
        await refuse(resolved.refusal.code);
        throw new DomainError(resolved.refusal.code, resolved.refusal.detail, { extensions: resolved.refusal.extensions, status: 409 });
      }
      const { registry } = resolved;
      if (!registry) {
        await deps.pulls.recordIssued({ ...event, id: deps.newId() });
        return { imageId, reference: resolved.reference, registry: null, auth: null, expiresAt: null };
      }
      let secret: string;
      try {
        secret = decryptPassword(registry);
      } catch (err) {
        if (err instanceof DecryptionError) await refuse("credential_undecryptable");
        throw err;
      }
      // A cloud registry hands out the token its credential is exchanged for, never the credential.
      const derived = await registryAuth.derive(registry, secret);
      if (!derived.ok) {
        await refuse("exchange_failed");
        throw new DomainError("exchange_failed", exchangeFailed(derived.reason));
      }
      const { username, password, expiresAt } = derived.credential;
      // One statement: the audit event, and the registry marked used.
      await deps.pulls.recordIssued({ ...event, id: deps.newId() });
      return {
        imageId,
        reference: resolved.reference,
        registry: { id: registry.id, name: registry.name, server: registry.server, insecure: serverScheme(registry.server) === "http" },
        // Keyed by the image's host as the reference spells it (that is what runtimes look up),
        // and for Kubernetes by that host and the registry's repository prefix.
        auth: runtimeAuth(
          { host: referenceServer(resolved.ref), path: serverPath(registry.server), username, password, email: registry.email },
          `modbox-pull-${imageId}`,
        ),
        expiresAt,
      };
    },
  };
}
