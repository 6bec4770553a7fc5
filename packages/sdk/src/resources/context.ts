import type { Client } from "openapi-fetch";
import type { IdempotentRequestOptions, RequestOptions } from "../request-options.js";
import type { ScopedPaths } from "../scoped-paths.js";
import type { Fetch } from "../transport.js";

/** The typed openapi-fetch client under the resources (`client.raw`). */
export type RawClient = Client<ScopedPaths>;

/** The openapi-fetch options one call adds to its path and params. */
export interface CallInit {
  signal?: AbortSignal | undefined;
  headers?: Record<string, string> | undefined;
  fetch?: Fetch | undefined;
}

/** What a resource knows about a call that its method and headers do not tell the transport. */
export interface CallPolicy {
  /** Repeating the call is harmless although it is a POST without an `Idempotency-Key`. */
  repeatable?: boolean;
}

/** What a resource needs from the client: the raw client, and per-call options translated. */
export interface ResourceContext {
  readonly raw: RawClient;
  init(options?: RequestOptions, policy?: CallPolicy): CallInit;
}

/**
 * The `Idempotency-Key` of one call, made once so that every retry of the call sends the same
 * one: the caller's `idempotencyKey`, else an `Idempotency-Key` the caller put in `headers`
 * (the typed header the resources send would otherwise replace it), else a fresh random UUID.
 */
export function idempotencyKey(options: IdempotentRequestOptions | undefined): string {
  if (options?.idempotencyKey !== undefined) return options.idempotencyKey;
  const inHeaders = Object.entries(options?.headers ?? {}).find(
    ([name]) => name.toLowerCase() === "idempotency-key",
  );
  // The Web Crypto global, not node:crypto, so the SDK keeps running wherever fetch does.
  return inHeaders?.[1] ?? globalThis.crypto.randomUUID();
}
