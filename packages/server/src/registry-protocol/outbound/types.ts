/** Options and results of the registry API v2 client (v2-client.ts). */
import type { components } from "@modbox/sdk/openapi";
import type { ServerScheme } from "../hosts.js";
import type { InsecureRegistries } from "../insecure-registries.js";
import type { Send } from "./http.js";
import type { LookupFn } from "./resolve.js";

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface OutboundOptions {
  /** Allow loopback, private (RFC 1918, fc00::/7) and CGNAT targets: self-hosted registries, tests. */
  allowPrivate: boolean;
  /**
   * The hosts that may be spoken to over plain HTTP (`MODBOX_INSECURE_REGISTRIES`): an http
   * registry, and an http Bearer realm or redirect, only on these. Default: none.
   */
  insecureRegistries?: InsecureRegistries;
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
  /** `host[:port]` to contact, lowercase, no scheme or path (see `apiHost`). */
  host: string;
  /**
   * `http` for a registry whose server is written `http://…` (it must also be listed in
   * `OutboundOptions.insecureRegistries`, else nothing is sent); default `https`.
   */
  scheme?: ServerScheme;
  /** PEM CA bundle for a private-CA registry (added to the bundled roots). */
  caCertPem?: string;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * Why a login failed: the contract's `Verification.error_code` enum (openapi.yaml, where each
 * code's meaning is written for the API user) minus `anonymous_registry`, which is an
 * `unverified` outcome rather than a failure. Derived, so this client cannot answer a code the
 * API does not document.
 */
export type VerificationErrorCode = Exclude<
  NonNullable<components["schemas"]["Verification"]["error_code"]>,
  // `exchange_failed` is decided before any registry is contacted (the cloud token exchange).
  "anonymous_registry" | "exchange_failed"
>;

export type VerifyResult =
  | { status: "verified" }
  | { status: "unverified"; reason: "anonymous_registry" }
  | { status: "failed"; code: VerificationErrorCode; detail: string };

/**
 * Why a manifest check failed: the contract's `PullCheck.error_code` enum minus the codes the
 * pull service decides from stored state before any request is sent (a disabled image or
 * registry, a deleted or mismatched registry, an undecryptable credential).
 * `registry_auth_failed` is 401/403 on the manifest or from the token service, ECR Public's 400
 * on a bearer token, or no credentials where needed.
 */
export type PullCheckErrorCode = Exclude<
  NonNullable<components["schemas"]["PullCheck"]["error_code"]>,
  "image_disabled" | "registry_disabled" | "registry_deleted" | "registry_host_mismatch" | "credential_undecryptable" | "exchange_failed"
>;

export type PullCheckResult =
  | { ok: true; digest: string; mediaType: string | null }
  | { ok: false; code: PullCheckErrorCode; detail: string };
