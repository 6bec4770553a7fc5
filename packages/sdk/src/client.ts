import createOpenApiClient from "openapi-fetch";
import { ModboxError } from "./errors.js";
import type { RequestOptions } from "./request-options.js";
import type { CallInit, CallPolicy, RawClient } from "./resources/context.js";
import { Provisioning } from "./resources/provisioning.js";
import { Registries } from "./resources/registries.js";
import { SandboxImages } from "./resources/sandbox-images.js";
import { Tokens } from "./resources/tokens.js";
import type { ScopedPaths } from "./scoped-paths.js";
import { createTransport, type Fetch } from "./transport.js";

/** Settings of a client; everything but `baseUrl`, `token` and `workspaceId` has a default. */
export interface ClientOptions {
  /** The API root, e.g. `https://modbox.example.com`. */
  baseUrl: string;
  /** An API token (`mbx_…`), sent as `Authorization: Bearer <token>`. */
  token: string;
  /** The workspace every call is scoped to, sent as `X-Workspace-Id`. */
  workspaceId: string;
  /** The fetch to send requests with. Default: `globalThis.fetch`, looked up at each call. */
  fetch?: Fetch;
  /**
   * Retries after the first attempt. Default 2. Only for calls that are safe to repeat: GET,
   * HEAD, PUT, DELETE, and a POST sent with an `Idempotency-Key` (the resources send one with
   * every POST that creates or acts, but `tokens.create`: its answer is a token, never replayed).
   */
  maxRetries?: number;
  /** Budget of each attempt, in milliseconds. Default 30 000. */
  timeoutMs?: number;
  /** Extra headers for every call. `Authorization` and `X-Workspace-Id` are always the client's. */
  headers?: Record<string, string>;
}

const DEFAULT_MAX_RETRIES = 2;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Creates a client of the Modbox Registries API, bound to one workspace.
 *
 * @example
 * ```ts
 * const client = createClient({
 *   baseUrl: "http://localhost:8080",
 *   token: process.env.MODBOX_TOKEN!,
 *   workspaceId: "acme",
 * });
 * const registry = await client.registries.get(id);
 * ```
 */
export function createClient(options: ClientOptions): ModboxClient {
  return new ModboxClient(options);
}

/** A client bound to one workspace. Build it with {@link createClient}. */
export class ModboxClient {
  /** Encrypted Docker registry credentials. */
  readonly registries: Registries;
  /** Sandbox images, optionally linked to a registry. */
  readonly sandboxImages: SandboxImages;
  /** Pull credentials for provisioners (needs a `provisioner`-scope token). */
  readonly provisioning: Provisioning;
  /** API tokens (needs an `admin`-scope token; not scoped to the client's workspace). */
  readonly tokens: Tokens;
  /**
   * The typed openapi-fetch client underneath, for calls the resources do not cover. It shares
   * the headers, retries and timeout, and returns `{ data, error, response }` instead of throwing
   * on error statuses. `X-Workspace-Id` is optional in its types because the client sends it.
   * It adds no `Idempotency-Key`: a POST through it is retried only if you send one
   * (`params: { header: { "Idempotency-Key": key } }`).
   */
  readonly raw: RawClient;
  /** The workspace this client is bound to. */
  readonly workspaceId: string;
  // Private fields, so the token does not show in console.log(client) or JSON.
  readonly #options: ClientOptions;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    requireText(options.baseUrl, "baseUrl");
    requireText(options.token, "token");
    requireText(options.workspaceId, "workspaceId");
    this.#options = options;
    this.#maxRetries = count(options.maxRetries ?? DEFAULT_MAX_RETRIES, "maxRetries", 0);
    this.#timeoutMs = count(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "timeoutMs", 1);
    this.workspaceId = options.workspaceId;
    this.raw = createOpenApiClient<ScopedPaths>({
      baseUrl: options.baseUrl,
      fetch: this.#transport({}),
      headers: {
        Accept: "application/json, application/problem+json",
        ...options.headers,
        Authorization: `Bearer ${options.token}`,
        "X-Workspace-Id": options.workspaceId,
      },
    });
    const ctx = { raw: this.raw, init: (o?: RequestOptions, p?: CallPolicy) => this.#init(o, p) };
    this.registries = new Registries(ctx);
    this.sandboxImages = new SandboxImages(ctx);
    this.provisioning = new Provisioning(ctx);
    this.tokens = new Tokens(ctx);
  }

  /**
   * Returns a client with the same settings, bound to another workspace. Cheap: no connection
   * or state is created, so it is fine to call per request.
   *
   * @example
   * ```ts
   * const images = await client.withWorkspace("other-team").sandboxImages.list();
   * ```
   */
  withWorkspace(workspaceId: string): ModboxClient {
    return new ModboxClient({ ...this.#options, workspaceId });
  }

  #init(options: RequestOptions = {}, policy: CallPolicy = {}): CallInit {
    const { signal, headers, maxRetries, timeoutMs } = options;
    const { repeatable } = policy;
    // The client's shared transport serves every call that changes none of its settings; the
    // others get one of their own (a closure, cheap to build).
    const ownTransport = maxRetries !== undefined || timeoutMs !== undefined || repeatable === true;
    return {
      signal,
      headers,
      fetch: ownTransport ? this.#transport({ maxRetries, timeoutMs, repeatable }) : undefined,
    };
  }

  #transport(overrides: {
    maxRetries?: number | undefined;
    timeoutMs?: number | undefined;
    repeatable?: boolean | undefined;
  }) {
    return createTransport({
      fetch: this.#options.fetch,
      maxRetries: count(overrides.maxRetries ?? this.#maxRetries, "maxRetries", 0),
      timeoutMs: count(overrides.timeoutMs ?? this.#timeoutMs, "timeoutMs", 1),
      repeatable: overrides.repeatable,
    });
  }
}

function requireText(value: unknown, name: string): void {
  if (typeof value !== "string" || value === "") {
    throw new ModboxError(`createClient: \`${name}\` must be a non-empty string.`);
  }
}

function count(value: number, name: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ModboxError(`\`${name}\` must be an integer of at least ${min}.`);
  }
  return value;
}
