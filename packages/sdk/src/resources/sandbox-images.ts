import type { APIPromise, VersionedResponse } from "../api-promise.js";
import { paginate, type PagePromise } from "../pagination.js";
import type {
  ConditionalReadOptions,
  ConditionalRequestOptions,
  IdempotentRequestOptions,
  RequestOptions,
} from "../request-options.js";
import { respond, respondUnlessNotModified, respondVersioned, unwrap } from "../response.js";
import type {
  PullCheck,
  SandboxImage,
  SandboxImageCreate,
  SandboxImageListQuery,
  SandboxImageUpdate,
} from "../types.js";
import { idempotencyKey, type ResourceContext } from "./context.js";

/** Images that sandboxes are provisioned from, optionally pulled with a registry's credentials. */
export class SandboxImages {
  readonly #ctx: ResourceContext;

  constructor(ctx: ResourceContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates a sandbox image; `registry_id` links the registry whose credentials pull it.
   * Sent with an `Idempotency-Key` (yours, or a random one per call), so it is retried like a
   * GET: a retry whose first attempt created the image gets that image back, not a second one.
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
  create(
    body: SandboxImageCreate,
    options?: IdempotentRequestOptions,
  ): APIPromise<SandboxImage, VersionedResponse<SandboxImage>> {
    return respondVersioned(
      this.#ctx.raw.POST("/sandbox-images", {
        params: { header: { "Idempotency-Key": idempotencyKey(options) } },
        body,
        ...this.#ctx.init(options),
      }),
    );
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
   * Fetches one sandbox image. Throws `NotFoundError` if it is not in this workspace. With
   * `{ ifNoneMatch: etag }` it resolves `null` when the image is still at that version.
   *
   * @example
   * ```ts
   * const image = await client.sandboxImages.get("0193b3c5-1f2e-7a3b-8c4d-5e6f7a8b9c0d");
   * const { data, etag } = await client.sandboxImages.get(id).withResponse();
   * ```
   */
  get(
    id: string,
    options: ConditionalReadOptions,
  ): APIPromise<SandboxImage | null, VersionedResponse<SandboxImage | null>>;
  get(id: string, options?: RequestOptions): APIPromise<SandboxImage, VersionedResponse<SandboxImage>>;
  get(
    id: string,
    options?: RequestOptions & { ifNoneMatch?: string },
  ): APIPromise<SandboxImage | null, VersionedResponse<SandboxImage | null>> {
    const ifNoneMatch = options?.ifNoneMatch;
    const call = this.#ctx.raw.GET("/sandbox-images/{image_id}", {
      params: { path: { image_id: id }, header: { "If-None-Match": ifNoneMatch } },
      ...this.#ctx.init(options),
    });
    return ifNoneMatch === undefined ? respondVersioned(call) : respondUnlessNotModified(call);
  }

  /**
   * Changes only the fields sent. Send `registry_id: null` to make the image public.
   * `{ ifMatch: etag }` writes only if nobody changed the image since you read that `etag`
   * (else `PreconditionFailedError`). A retried conditional update whose first attempt landed
   * but whose answer was lost also ends in `PreconditionFailedError`: read it again to see.
   *
   * @example
   * ```ts
   * await client.sandboxImages.update(image.id, { tag: "v2", memory_mb: 2048 });
   * await client.sandboxImages.update(image.id, { tag: "v3" }, { ifMatch: etag });
   * ```
   */
  update(
    id: string,
    body: SandboxImageUpdate,
    options?: ConditionalRequestOptions,
  ): APIPromise<SandboxImage, VersionedResponse<SandboxImage>> {
    return respondVersioned(
      this.#ctx.raw.PUT("/sandbox-images/{image_id}", {
        params: { path: { image_id: id }, header: { "If-Match": options?.ifMatch } },
        body,
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Deletes the sandbox image. `{ ifMatch: etag }` deletes only that version (else
   * `PreconditionFailedError`).
   *
   * @example
   * ```ts
   * await client.sandboxImages.delete(image.id);
   * await client.sandboxImages.delete(image.id, { ifMatch: etag });
   * ```
   */
  delete(id: string, options?: ConditionalRequestOptions): APIPromise<void> {
    return respond(
      this.#ctx.raw.DELETE("/sandbox-images/{image_id}", {
        params: { path: { image_id: id }, header: { "If-Match": options?.ifMatch } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Asks the registry whether the linked credentials can pull this image (public images are
   * checked anonymously). Failures are answers, not exceptions: `pullable: false` with an
   * `error_code` such as `image_not_found`, `registry_auth_failed` or `registry_deleted`.
   * Sent with an `Idempotency-Key`, so retried like a GET (a retry gets the first check's answer).
   *
   * @example
   * ```ts
   * const check = await client.sandboxImages.pullCheck(image.id);
   * if (check.pullable) console.log(check.digest);
   * ```
   */
  pullCheck(id: string, options?: IdempotentRequestOptions): APIPromise<PullCheck> {
    return respond(
      this.#ctx.raw.POST("/sandbox-images/{image_id}/pull-check", {
        params: { path: { image_id: id }, header: { "Idempotency-Key": idempotencyKey(options) } },
        ...this.#ctx.init(options),
      }),
    );
  }
}
