/** Options and results of the registry API v2 client (v2-client.ts). */
import type { Send } from "./http.js";
import type { LookupFn } from "./resolve.js";

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface OutboundOptions {
  /** Allow loopback, private (RFC 1918, fc00::/7) and CGNAT targets: self-hosted registries, tests. */
  allowPrivate: boolean;
  /** Budget of each request (DNS + connect + TLS + answer); default 5000 ms. */
  timeoutMs?: number;
  /** Largest body read from any answer (token, error, manifest); default 1 MiB. */
  maxResponseBytes?: number;
  /** DNS for tests (defaults to `dns.lookup(host, { all: true, verbatim: true })`). */
  lookup?: LookupFn;
  /**
   * Sends one request hop; default `outboundRequest`. A test seam like an injected `fetch`: a
   * double may answer for a cloud registry that cannot run here and delegate the rest.
   */
  send?: Send;
}

export interface RegistryEndpoint {
  /** `host[:port]` to contact, lowercase, no scheme or path (as stored). */
  host: string;
  /** PEM CA bundle for a private-CA registry (added to the bundled roots). */
  caCertPem?: string;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Why a verification or pull check failed; `detail` is a safe, human sentence. */
export type VerificationErrorCode =
  /** The registry or its token service refused the credentials (401/403, or not 200 after auth). */
  | "invalid_credentials"
  /** No usable challenge: 401 without `WWW-Authenticate`, a malformed one, or a scheme other than Basic/Bearer. */
  | "unsupported_auth"
  /** The Bearer realm is not https: credentials are never sent over http. */
  | "insecure_realm"
  /** Timeout, DNS failure, refused/reset connection, or `/v2/` is not an API v2 endpoint (e.g. 404). */
  | "registry_unreachable"
  /** The registry answered but misbehaved: 5xx/429, bad token response, too large, bad redirect. */
  | "registry_error"
  /** TLS handshake failed (untrusted/expired certificate, wrong host, protocol). */
  | "tls_error"
  /** The registry, its realm or a redirect target resolves to a refused address class. */
  | "address_not_allowed";

export type VerifyResult =
  | { status: "verified" }
  | { status: "unverified"; reason: "anonymous_registry" }
  | { status: "failed"; code: VerificationErrorCode; detail: string };

export type PullCheckErrorCode =
  | "image_not_found"
  /** 401/403 on the manifest or from the token service, ECR Public's 400 on a bearer token, or no credentials where needed. */
  | "registry_auth_failed"
  | Exclude<VerificationErrorCode, "invalid_credentials">;

export type PullCheckResult =
  | { ok: true; digest: string; mediaType: string | null }
  | { ok: false; code: PullCheckErrorCode; detail: string };
