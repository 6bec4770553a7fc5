import type { Client } from "openapi-fetch";
import type { RequestOptions } from "../request-options.js";
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

/** What a resource needs from the client: the raw client, and per-call options translated. */
export interface ResourceContext {
  readonly raw: RawClient;
  init(options?: RequestOptions): CallInit;
}
