import { timingSafeEqual } from "node:crypto";
import type { ApiTokenRecord, TokenScope } from "../db/records.js";
import { hashApiToken, isWellFormedApiToken } from "./api-token.js";

/** Who is calling: what an authenticated token may do. */
export interface Principal {
  tokenId: string;
  scope: TokenScope;
  /** null: every workspace. */
  workspaceIds: ReadonlySet<string> | null;
}

export interface AuthenticatorDeps {
  tokens: {
    findActiveByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
    touchLastUsed(id: string, at: Date): Promise<void>;
  };
  /** MODBOX_BOOTSTRAP_TOKEN: valid for every workspace, never stored. */
  bootstrapToken?: string;
  now?: () => number;
  /**
   * How long a looked-up token is trusted without asking the database again. A revocation made
   * by the CLI takes effect on a running server within this time.
   */
  cacheTtlMs?: number;
  /** last_used_at is written at most this often per token, to keep writes off the hot path. */
  touchIntervalMs?: number;
}

export type Authenticator = (token: string) => Promise<Principal | null>;

const MAX_CACHED_TOKENS = 10_000;

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const now = deps.now ?? Date.now;
  const cacheTtlMs = deps.cacheTtlMs ?? 5_000;
  const touchIntervalMs = deps.touchIntervalMs ?? 60_000;
  const bootstrapHash = deps.bootstrapToken ? Buffer.from(hashApiToken(deps.bootstrapToken), "hex") : null;
  const bootstrapPrincipal: Principal = { tokenId: "bootstrap", scope: "workspace", workspaceIds: null };
  const cache = new Map<string, { principal: Principal | null; expiresAt: number }>();
  const lastTouched = new Map<string, number>();

  return async function authenticate(token) {
    const hash = hashApiToken(token);
    if (bootstrapHash && timingSafeEqual(bootstrapHash, Buffer.from(hash, "hex"))) return bootstrapPrincipal;
    if (!isWellFormedApiToken(token)) return null;

    const cached = cache.get(hash);
    if (cached && cached.expiresAt > now()) return cached.principal;

    const record = await deps.tokens.findActiveByHash(hash);
    const principal = record ? toPrincipal(record) : null;
    if (cache.size >= MAX_CACHED_TOKENS) cache.clear();
    cache.set(hash, { principal, expiresAt: now() + cacheTtlMs });
    if (principal) await touch(principal.tokenId);
    return principal;
  };

  async function touch(tokenId: string): Promise<void> {
    const at = now();
    const last = lastTouched.get(tokenId);
    if (last !== undefined && last + touchIntervalMs > at) return;
    lastTouched.set(tokenId, at);
    await deps.tokens.touchLastUsed(tokenId, new Date(at));
  }
}

function toPrincipal(record: ApiTokenRecord): Principal {
  return {
    tokenId: record.id,
    scope: record.scope,
    workspaceIds: record.workspaceIds ? new Set(record.workspaceIds) : null,
  };
}
