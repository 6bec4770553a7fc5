import { paginate, type PagePromise } from "../pagination.js";
import type { RequestOptions } from "../request-options.js";
import { unwrap } from "../response.js";
import type { Registry, RegistryCreate, RegistryListQuery, RegistryUpdate, Verification } from "../types.js";
import type { ResourceContext } from "./context.js";

/** Encrypted Docker registry credentials of the client's workspace. */
export class Registries {
  readonly #ctx: ResourceContext;

  constructor(ctx: ResourceContext) {
    this.#ctx = ctx;
  }

  /**
   * Stores a registry credential. The password is encrypted at rest and never returned.
   * Never retried: a POST whose answer was lost may have created the registry already.
   * With `{ verify: true }` the server logs in to the registry first and refuses invalid
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
   * ```
   */
  create(body: RegistryCreate, options?: RequestOptions & { verify?: boolean }): Promise<Registry> {
    return unwrap(
      this.#ctx.raw.POST("/registries", {
        params: { query: verifyQuery(options) },
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
   * Fetches one registry. Throws `NotFoundError` if it is not in this workspace.
   *
   * @example
   * ```ts
   * const registry = await client.registries.get("0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70");
   * ```
   */
  get(id: string, options?: RequestOptions): Promise<Registry> {
    return unwrap(
      this.#ctx.raw.GET("/registries/{registry_id}", {
        params: { path: { registry_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Changes only the fields sent. Send `password` to rotate the credential, `email: null` to
   * clear the email. `{ verify: true }` proves the resulting credential before saving.
   *
   * @example
   * ```ts
   * await client.registries.update(registry.id, { password: newToken });
   * ```
   */
  update(id: string, body: RegistryUpdate, options?: RequestOptions & { verify?: boolean }): Promise<Registry> {
    return unwrap(
      this.#ctx.raw.PUT("/registries/{registry_id}", {
        params: { path: { registry_id: id }, query: verifyQuery(options) },
        body,
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Logs in to the registry with the stored credentials and records the outcome:
   * `verified`, `failed` (with `error_code`) or `unverified` (an anonymous registry).
   * Throws `ConflictError` (`registry_disabled`) for a disabled registry.
   *
   * @example
   * ```ts
   * const { status, error_code } = await client.registries.verify(registry.id);
   * ```
   */
  verify(id: string, options?: RequestOptions): Promise<Verification> {
    return unwrap(
      this.#ctx.raw.POST("/registries/{registry_id}/verify", {
        params: { path: { registry_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Deletes the registry and destroys its credential. A registry still linked to sandbox images
   * throws `ConflictError` (`registry_in_use`, with `problem.linked_image_ids`) unless
   * `{ force: true }`; the images then fail to pull with `registry_deleted`.
   *
   * @example
   * ```ts
   * await client.registries.delete(registry.id);
   * await client.registries.delete(registry.id, { force: true });
   * ```
   */
  async delete(id: string, options?: RequestOptions & { force?: boolean }): Promise<void> {
    await unwrap(
      this.#ctx.raw.DELETE("/registries/{registry_id}", {
        params: { path: { registry_id: id }, query: options?.force === undefined ? {} : { force: options.force } },
        ...this.#ctx.init(options),
      }),
    );
  }
}

function verifyQuery(options: { verify?: boolean } | undefined): { verify?: boolean } {
  return options?.verify === undefined ? {} : { verify: options.verify };
}
