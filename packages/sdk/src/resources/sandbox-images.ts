import { paginate, type PagePromise } from "../pagination.js";
import type { RequestOptions } from "../request-options.js";
import { unwrap } from "../response.js";
import type {
  PullCheck,
  SandboxImage,
  SandboxImageCreate,
  SandboxImageListQuery,
  SandboxImageUpdate,
} from "../types.js";
import type { ResourceContext } from "./context.js";

/** Images that sandboxes are provisioned from, optionally pulled with a registry's credentials. */
export class SandboxImages {
  readonly #ctx: ResourceContext;

  constructor(ctx: ResourceContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates a sandbox image; `registry_id` links the registry whose credentials pull it.
   * Never retried: a POST whose answer was lost may have created the image already.
   *
   * @example
   * ```ts
   * const image = await client.sandboxImages.create({
   *   name: "Our Private App",
   *   image: "ghcr.io/your-org/your-image",
   *   tag: "latest",
   *   registry_id: registry.id,
   * });
   * ```
   */
  create(body: SandboxImageCreate, options?: RequestOptions): Promise<SandboxImage> {
    return unwrap(this.#ctx.raw.POST("/sandbox-images", { body, ...this.#ctx.init(options) }));
  }

  /**
   * Lists sandbox images, newest first. Await it for one page, or iterate every image.
   *
   * @example
   * ```ts
   * for await (const image of client.sandboxImages.list({ registry_id: registry.id })) {
   *   console.log(`${image.image}:${image.tag}`);
   * }
   * ```
   */
  list(query: SandboxImageListQuery = {}, options?: RequestOptions): PagePromise<SandboxImage> {
    return paginate(query, (q) =>
      unwrap(
        this.#ctx.raw.GET("/sandbox-images", { params: { query: q }, ...this.#ctx.init(options) }),
      ),
    );
  }

  /**
   * Fetches one sandbox image. Throws `NotFoundError` if it is not in this workspace.
   *
   * @example
   * ```ts
   * const image = await client.sandboxImages.get("0193b3c5-1f2e-7a3b-8c4d-5e6f7a8b9c0d");
   * ```
   */
  get(id: string, options?: RequestOptions): Promise<SandboxImage> {
    return unwrap(
      this.#ctx.raw.GET("/sandbox-images/{image_id}", {
        params: { path: { image_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Changes only the fields sent. Send `registry_id: null` to make the image public.
   *
   * @example
   * ```ts
   * await client.sandboxImages.update(image.id, { tag: "v2", memory_mb: 2048 });
   * ```
   */
  update(id: string, body: SandboxImageUpdate, options?: RequestOptions): Promise<SandboxImage> {
    return unwrap(
      this.#ctx.raw.PUT("/sandbox-images/{image_id}", {
        params: { path: { image_id: id } },
        body,
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Deletes the sandbox image.
   *
   * @example
   * ```ts
   * await client.sandboxImages.delete(image.id);
   * ```
   */
  async delete(id: string, options?: RequestOptions): Promise<void> {
    await unwrap(
      this.#ctx.raw.DELETE("/sandbox-images/{image_id}", {
        params: { path: { image_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Asks the registry whether the linked credentials can pull this image (public images are
   * checked anonymously). Failures are answers, not exceptions: `pullable: false` with an
   * `error_code` such as `image_not_found`, `registry_auth_failed` or `registry_deleted`.
   *
   * @example
   * ```ts
   * const check = await client.sandboxImages.pullCheck(image.id);
   * if (check.pullable) console.log(check.digest);
   * ```
   */
  pullCheck(id: string, options?: RequestOptions): Promise<PullCheck> {
    return unwrap(
      this.#ctx.raw.POST("/sandbox-images/{image_id}/pull-check", {
        params: { path: { image_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }
}
