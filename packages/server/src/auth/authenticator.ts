import { timingSafeEqual } from "node:crypto";
import type { ApiTokenRecord, TokenScope } from "../db/records.js";
import { createAddressLimiter, type AddressLimiter } from "./address-limiter.js";
import { hashApiToken, isWellFormedApiToken } from "./api-token.js";

/** Who is calling: what an authenticated token may do. */
export interface Principal {
  tokenId: string;
  scope: TokenScope;
  /** null: every workspace. */
  workspaceIds: ReadonlySet<string> | null;
}

/** What a request's bearer token amounts to. */
export type Authentication =
  | { kind: "authenticated"; principal: Principal }
  /** No token, a malformed one, or one that is unknown or revoked: 401. */
  | { kind: "refused" }
  /**
   * The address failed too often and the token is not one we know: 429, the database not asked,
   * the answer held `holdMs` first (a client looping on refused tokens then sends few requests).
   */
  | { kind: "throttled"; retryAfterSeconds: number; holdMs: number };

export interface Authenticator {
  /**
   * Resolves the bearer token of a request (undefined: none was sent) from a client address.
   * Every refusal counts against the address.
   */
  authenticate(token: string | undefined, clientAddress: string | undefined): Promise<Authentication>;
  /** Forgets a token at once: it was revoked (a notification from the database says so). */
  forgetToken(tokenId: string): void;
  /**
   * Every cached token must be checked again before it is trusted: revocations may have been
   * missed (the notification connection was re-established).
   */
  forgetAll(): void;
}

export interface AuthenticatorDeps {
  tokens: {
    findActiveByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
    touchLastUsed(id: string, at: Date): Promise<void>;
  };
  /** MODBOX_BOOTSTRAP_TOKEN: an admin token (every workspace, and `/tokens`), never stored. */
  bootstrapToken?: string;
  now?: () => number;
  /**
   * How long a looked-up token is trusted without asking the database again, when no revocation
   * notice arrives. With the notification listener running, a revocation reaches this process
   * well within a second; this is the bound when a notice is lost.
   */
  cacheTtlMs?: number;
  /** last_used_at is written at most this often per token, to keep writes off the hot path. */
  touchIntervalMs?: number;
  /** Failed authentications per client address (default: none counted, nothing throttled). */
  addressLimiter?: AddressLimiter;
  /** How long a throttled answer is held before it is sent (default 0). */
  throttleHoldMs?: number;
  /** Bounds of the two caches (tests make them small). */
  maxKnownTokens?: number;
  maxUnknownTokens?: number;
}

/** The principal id of MODBOX_BOOTSTRAP_TOKEN (audit rows and `created_by` name it so). */
export const BOOTSTRAP_TOKEN_ID = "bootstrap";

/** Valid tokens this instance has seen: enough for every client of a large installation. */
const MAX_KNOWN_TOKENS = 10_000;
/** Unknown (forged, mistyped, revoked) tokens remembered; each entry is a hash and a time. */
const MAX_UNKNOWN_TOKENS = 10_000;

interface KnownToken {
  principal: Principal;
  checkedAt: number;
  /** The cache generation it was checked in; an older one must be checked again (forgetAll). */
  generation: number;
}

/**
 * Turns bearer tokens into principals without a database query per request.
 *
 * Two caches, each bounded, so that one kind of traffic cannot push out the other: known tokens
 * (checked valid, trusted for `cacheTtlMs`) and unknown ones (checked and not found, remembered
 * for as long). A flood of forged tokens fills and recycles the unknown cache only; the entry of
 * a real client stays where it is. A known token whose time is up stays known until it is checked
 * again: an address over its failure limit may still use it (only unknown tokens are refused
 * without a query), and the check then decides.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const now = deps.now ?? Date.now;
  const cacheTtlMs = deps.cacheTtlMs ?? 5_000;
  const touchIntervalMs = deps.touchIntervalMs ?? 60_000;
  const maxKnown = deps.maxKnownTokens ?? MAX_KNOWN_TOKENS;
  const maxUnknown = deps.maxUnknownTokens ?? MAX_UNKNOWN_TOKENS;
  // Stryker disable next-line ObjectLiteral: a limiter given no limit and no window never blocks either
  const limiter = deps.addressLimiter ?? createAddressLimiter({ maxFailures: 0, windowMs: 1 });
  const holdMs = deps.throttleHoldMs ?? 0;
  const bootstrapHash = deps.bootstrapToken ? Buffer.from(hashApiToken(deps.bootstrapToken), "hex") : null;
  const bootstrapPrincipal: Principal = { tokenId: BOOTSTRAP_TOKEN_ID, scope: "admin", workspaceIds: null };

  // Keyed by the token's SHA-256 (hex), never by the token.
  const known = new Map<string, KnownToken>();
  // Value: when the entry expires. Insertion order is expiry order (one TTL for all).
  const unknown = new Map<string, number>();
  // One query per token at a time: concurrent requests with the same token share its lookup.
  const inFlight = new Map<string, Promise<Principal | null>>();
  const lastTouched = new Map<string, number>();
  let generation = 0;
  // Bumped by every revocation notice, so a lookup that was in flight when one arrived (its read
  // may predate the revocation) is not trusted beyond the request that made it.
  let revocations = 0;

  const authenticated = (principal: Principal): Authentication => ({ kind: "authenticated", principal });
  const refused = (clientAddress: string | undefined): Authentication => {
    limiter.recordFailure(clientAddress);
    return { kind: "refused" };
  };

  return {
    async authenticate(token, clientAddress) {
      const hash = token === undefined ? undefined : hashApiToken(token);
      if (hash !== undefined && bootstrapHash && timingSafeEqual(bootstrapHash, Buffer.from(hash, "hex"))) {
        return authenticated(bootstrapPrincipal);
      }
      // Stryker disable next-line ConditionalExpression: nothing is ever cached under undefined
      const entry = hash === undefined ? undefined : known.get(hash);
      if (entry && entry.generation === generation && now() - entry.checkedAt < cacheTtlMs) return authenticated(entry.principal);

      if (!entry) {
        const retryAfterSeconds = limiter.blockedFor(clientAddress);
        if (retryAfterSeconds > 0) return { kind: "throttled", retryAfterSeconds, holdMs };
      }
      // Stryker disable next-line ConditionalExpression: without a token the shape check refuses too
      if (hash === undefined || !isWellFormedApiToken(token!)) return refused(clientAddress);
      // Stryker disable next-line ConditionalExpression: a hash is never in both caches, so a known one has no expiry here
      if (!entry) {
        const expiresAt = unknown.get(hash);
        // Stryker disable next-line ConditionalExpression: undefined > now() is false as well
        if (expiresAt !== undefined && expiresAt > now()) return refused(clientAddress);
      }

      const principal = await lookUp(hash);
      if (!principal) return refused(clientAddress);
      await touch(principal.tokenId);
      return authenticated(principal);
    },

    forgetToken(tokenId) {
      // Stryker disable next-line AssignmentOperator: the counter is only compared for change
      revocations += 1;
      inFlight.clear();
      for (const [hash, entry] of known) {
        if (entry.principal.tokenId === tokenId) known.delete(hash);
      }
    },

    forgetAll() {
      generation += 1;
      // Stryker disable next-line AssignmentOperator: the counter is only compared for change
      revocations += 1;
      inFlight.clear();
    },
  };

  function lookUp(hash: string): Promise<Principal | null> {
    const pending = inFlight.get(hash);
    if (pending) return pending;
    const startedIn = { generation, revocations };
    const lookup = deps.tokens.findActiveByHash(hash).then(
      (record) => {
        if (inFlight.get(hash) === lookup) inFlight.delete(hash);
        const principal = record ? toPrincipal(record) : null;
        // A notice that came while the query ran may be about this very token, and the query may
        // have read the row before the revocation committed: answer this request, trust nothing.
        // Stryker disable next-line ConditionalExpression: forgetAll bumps revocations too, so a new generation always comes with a new count
        const overtaken = startedIn.generation !== generation || startedIn.revocations !== revocations;
        remember(hash, principal, overtaken ? -1 : generation);
        return principal;
      },
      (err: unknown) => {
        if (inFlight.get(hash) === lookup) inFlight.delete(hash);
        throw err;
      },
    );
    inFlight.set(hash, lookup);
    return lookup;
  }

  function remember(hash: string, principal: Principal | null, checkedInGeneration: number): void {
    const at = now();
    if (principal) {
      unknown.delete(hash);
      // Re-inserted, so the map's order is the order tokens were last checked: the first entry
      // is the one checked longest ago, evicted first.
      known.delete(hash);
      if (known.size >= maxKnown) known.delete(known.keys().next().value!);
      known.set(hash, { principal, checkedAt: at, generation: checkedInGeneration });
      return;
    }
    known.delete(hash);
    unknown.delete(hash);
    if (unknown.size >= maxUnknown) unknown.delete(unknown.keys().next().value!);
    unknown.set(hash, at + cacheTtlMs);
  }

  async function touch(tokenId: string): Promise<void> {
    const at = now();
    const last = lastTouched.get(tokenId);
    // Stryker disable next-line ConditionalExpression: undefined + interval > at is false as well
    if (last !== undefined && last + touchIntervalMs > at) return;
    if (lastTouched.size >= maxKnown) lastTouched.delete(lastTouched.keys().next().value!);
    lastTouched.delete(tokenId);
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
