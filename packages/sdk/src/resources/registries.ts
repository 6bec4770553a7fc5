import { paginate, type PagePromise } from "../pagination.js";
import type { RequestOptions } from "../request-options.js";
import { unwrap } from "../response.js";
import type { Registry, RegistryCreate, RegistryListQuery, RegistryUpdate } from "../types.js";
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
  create(body: RegistryCreate, options?: RequestOptions): Promise<Registry> {
    return unwrap(this.#ctx.raw.POST("/registries", { body, ...this.#ctx.init(options) }));
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
   * clear the email.
   *
   * @example
   * ```ts
   * await client.registries.update(registry.id, { password: newToken });
   * ```
   */
  update(id: string, body: RegistryUpdate, options?: RequestOptions): Promise<Registry> {
    return unwrap(
      this.#ctx.raw.PUT("/registries/{registry_id}", {
        params: { path: { registry_id: id } },
        body,
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Deletes the registry and destroys its credential. Images linked to it can no longer be
   * pulled with it.
   *
   * @example
   * ```ts
   * await client.registries.delete(registry.id);
   * ```
   */
  async delete(id: string, options?: RequestOptions): Promise<void> {
    await unwrap(
      this.#ctx.raw.DELETE("/registries/{registry_id}", {
        params: { path: { registry_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }
}
