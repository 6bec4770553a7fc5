import type { APIPromise, VersionedResponse } from "../api-promise.js";
import { paginate, type PagePromise } from "../pagination.js";
import type {
  ConditionalReadOptions,
  ConditionalRequestOptions,
  IdempotentRequestOptions,
  RequestOptions,
} from "../request-options.js";
import { respond, respondUnlessNotModified, respondVersioned, unwrap } from "../response.js";
import type { Registry, RegistryCreate, RegistryListQuery, RegistryUpdate, Verification } from "../types.js";
import { idempotencyKey, type ResourceContext } from "./context.js";

/** Encrypted Docker registry credentials of the client's workspace. */
export class Registries {
  readonly #ctx: ResourceContext;

  constructor(ctx: ResourceContext) {
    this.#ctx = ctx;
  }

  /**
   * Stores a registry credential. The password is encrypted at rest and never returned.
   * Sent with an `Idempotency-Key` (yours, or a random one per call), so it is retried like a
   * GET: a retry whose first attempt created the registry gets that registry back, not a second
   * one. With `{ verify: true }` the server logs in to the registry first and refuses invalid
   * credentials (`UnprocessableEntityError`, code `invalid_credentials`).
   *
   * @example
   * ```ts
   * const registry = await client.registries.create({
   *   name: "GitHub Container Registry",
   *   server: "ghcr.io",
   *   username: "octocat",
   *   password: process.env.GHCR_TOKEN!,
   * });
   * const { data, etag } = await client.registries.create(body, { idempotencyKey: storedKey }).withResponse();
   * ```
   */
  create(
    body: RegistryCreate,
    options?: IdempotentRequestOptions & { verify?: boolean },
  ): APIPromise<Registry, VersionedResponse<Registry>> {
    return respondVersioned(
      this.#ctx.raw.POST("/registries", {
        params: { query: verifyQuery(options), header: { "Idempotency-Key": idempotencyKey(options) } },
        body,
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Lists registries, newest first. Await it for one page, or iterate every registry.
   *
   * @example
   * ```ts
   * for await (const registry of client.registries.list({ enabled: true })) {
   *   console.log(registry.name);
   * }
   * ```
   */
  list(query: RegistryListQuery = {}, options?: RequestOptions): PagePromise<Registry> {
    return paginate(query, (q) =>
      unwrap(this.#ctx.raw.GET("/registries", { params: { query: q }, ...this.#ctx.init(options) })),
    );
  }

  /**
   * Fetches one registry. Throws `NotFoundError` if it is not in this workspace. With
   * `{ ifNoneMatch: etag }` it resolves `null` when the registry is still at that version.
   *
   * @example
   * ```ts
   * const registry = await client.registries.get("0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70");
   * const { data, etag } = await client.registries.get(id).withResponse();
   * const changed = await client.registries.get(id, { ifNoneMatch: etag! }); // null: unchanged
   * ```
   */
  get(id: string, options: ConditionalReadOptions): APIPromise<Registry | null, VersionedResponse<Registry | null>>;
  get(id: string, options?: RequestOptions): APIPromise<Registry, VersionedResponse<Registry>>;
  get(
    id: string,
    options?: RequestOptions & { ifNoneMatch?: string },
  ): APIPromise<Registry | null, VersionedResponse<Registry | null>> {
    const ifNoneMatch = options?.ifNoneMatch;
    const call = this.#ctx.raw.GET("/registries/{registry_id}", {
      params: { path: { registry_id: id }, header: { "If-None-Match": ifNoneMatch } },
      ...this.#ctx.init(options),
    });
    return ifNoneMatch === undefined ? respondVersioned(call) : respondUnlessNotModified(call);
  }

  /**
   * Changes only the fields sent. Send `password` to rotate the credential, `email: null` to
   * clear the email. `{ verify: true }` proves the resulting credential before saving.
   * `{ ifMatch: etag }` writes only if nobody changed the registry since you read that `etag`
   * (else `PreconditionFailedError`). A retried conditional update whose first attempt landed
   * but whose answer was lost also ends in `PreconditionFailedError`: read it again to see.
   *
   * @example
   * ```ts
   * await client.registries.update(registry.id, { password: newToken });
   * const { data, etag } = await client.registries.get(id).withResponse();
   * await client.registries.update(id, { username: "bob" }, { ifMatch: etag });
   * ```
   */
  update(
    id: string,
    body: RegistryUpdate,
    options?: ConditionalRequestOptions & { verify?: boolean },
  ): APIPromise<Registry, VersionedResponse<Registry>> {
    return respondVersioned(
      this.#ctx.raw.PUT("/registries/{registry_id}", {
        params: {
          path: { registry_id: id },
          query: verifyQuery(options),
          header: { "If-Match": options?.ifMatch },
        },
        body,
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Logs in to the registry with the stored credentials and records the outcome:
   * `verified`, `failed` (with `error_code`) or `unverified` (an anonymous registry).
   * Throws `ConflictError` (`registry_disabled`) for a disabled registry. Sent with an
   * `Idempotency-Key`, so retried like a GET (a retry gets the first login's outcome).
   *
   * @example
   * ```ts
   * const { status, error_code } = await client.registries.verify(registry.id);
   * ```
   */
  verify(id: string, options?: IdempotentRequestOptions): APIPromise<Verification> {
    return respond(
      this.#ctx.raw.POST("/registries/{registry_id}/verify", {
        params: { path: { registry_id: id }, header: { "Idempotency-Key": idempotencyKey(options) } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Deletes the registry and destroys its credential. A registry still linked to sandbox images
   * throws `ConflictError` (`registry_in_use`, with `problem.linked_image_ids`) unless
   * `{ force: true }`; the images then fail to pull with `registry_deleted`. `{ ifMatch: etag }`
   * deletes only that version (else `PreconditionFailedError`).
   *
   * @example
   * ```ts
   * await client.registries.delete(registry.id);
   * await client.registries.delete(registry.id, { force: true, ifMatch: etag });
   * ```
   */
  delete(id: string, options?: ConditionalRequestOptions & { force?: boolean }): APIPromise<void> {
    return respond(
      this.#ctx.raw.DELETE("/registries/{registry_id}", {
        params: {
          path: { registry_id: id },
          query: options?.force === undefined ? {} : { force: options.force },
          header: { "If-Match": options?.ifMatch },
        },
        ...this.#ctx.init(options),
      }),
    );
  }
}

function verifyQuery(options: { verify?: boolean } | undefined): { verify?: boolean } {
  return options?.verify === undefined ? {} : { verify: options.verify };
}
