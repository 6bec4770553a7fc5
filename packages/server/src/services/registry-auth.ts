/**
 * The credential a registry is spoken to with, from what it stores: for `basic` the stored
 * username and password themselves; for a cloud type, the short-lived token its stored credential
 * is exchanged for (cached per registry, see cloud/exchange-cache.ts). Verification, pull checks
 * and pull credentials all ask here, so none of them ever sends a cloud master secret to a
 * registry or hands it to a provisioner.
 */
import { createHash } from "node:crypto";
import { createExchangeCache, type ExchangeCache } from "../cloud/exchange-cache.js";
import { ExchangeError, type CredentialExchanger } from "../cloud/exchanger.js";
import type { RegistryAuthType } from "../db/records.js";

export interface UsableCredential {
  username: string;
  password: string;
  /** When it stops working; null for a stored (basic) credential. */
  expiresAt: Date | null;
}

export type Derivation = { ok: true; credential: UsableCredential } | { ok: false; reason: string };

/** What of a registry the derivation reads (the secret is its decrypted `password_ciphertext`). */
export interface RegistryToAuthenticate {
  id: string;
  workspaceId: string;
  authType: RegistryAuthType;
  server: string;
  username: string;
}

export type CloudAuthType = Exclude<RegistryAuthType, "basic">;

export interface RegistryAuth {
  derive(registry: RegistryToAuthenticate, secret: string): Promise<Derivation>;
}

/** A server with no cloud exchange configured: `basic` only (services' default in unit tests). */
export const BASIC_ONLY: RegistryAuth = createRegistryAuth({ exchangers: {}, cache: createExchangeCache({ now: () => new Date() }) });

export function createRegistryAuth(deps: { exchangers: Partial<Record<CloudAuthType, CredentialExchanger>>; cache: ExchangeCache }): RegistryAuth {
  return {
    async derive(registry, secret) {
      if (registry.authType === "basic") {
        return { ok: true, credential: { username: registry.username, password: secret, expiresAt: null } };
      }
      const exchanger = deps.exchangers[registry.authType];
      if (!exchanger) return { ok: false, reason: `this server cannot exchange ${registry.authType} credentials` };
      // The token belongs to this credential at this server in this workspace: any change is a miss.
      const fingerprint = createHash("sha256")
        .update(`${registry.workspaceId}\u0000${registry.server}\u0000${secret}`)
        .digest("base64url");
      const outcome = await deps.cache.get(registry.id, fingerprint, async () => {
        try {
          const token = await exchanger.exchange({ workspaceId: registry.workspaceId, registryId: registry.id, server: registry.server, secret });
          return { ok: true, token };
        } catch (err) {
          if (err instanceof ExchangeError) return { ok: false, reason: err.message };
          throw err;
        }
      });
      return outcome.ok ? { ok: true, credential: { ...outcome.token } } : outcome;
    },
  };
}
