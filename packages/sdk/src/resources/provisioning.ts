import type { APIPromise } from "../api-promise.js";
import type { RequestOptions } from "../request-options.js";
import { respond } from "../response.js";
import type { PullCredentials } from "../types.js";
import type { ResourceContext } from "./context.js";

/**
 * For provisioners only: needs a token with the `provisioner` scope (workspace tokens get
 * `PermissionDeniedError`, code `insufficient_scope`).
 */
export class Provisioning {
  readonly #ctx: ResourceContext;

  constructor(ctx: ResourceContext) {
    this.#ctx = ctx;
  }

  /**
   * Resolves an image's reference and its registry's decrypted credential in every runtime
   * format: `auth.x_registry_auth` (Docker Engine), `auth.docker_config` (skopeo, podman,
   * containerd) and `auth.kubernetes_secret`. `auth` is `null` for a public image. Disabled,
   * deleted or mismatched registries throw `ConflictError` with their code. Keep the result in
   * memory only.
   *
   * Retried like a GET (network errors, 408, 429, 5xx), although it is a POST the contract gives
   * no `Idempotency-Key`: it creates nothing. Its writes are an audit record per call and the
   * registry's `last_used_at`; a repeat leaves `last_used_at` as one call would, and its extra
   * audit record is true (the credential was handed out again), not a duplicate. Provisioners
   * call it on the way to starting a sandbox, where a reset connection should not fail the start.
   *
   * @example
   * ```ts
   * const provisioner = createClient({ baseUrl, token: process.env.MODBOX_PROVISIONER_TOKEN!, workspaceId });
   * const { reference, auth } = await provisioner.provisioning.pullCredentials(imageId);
   * await docker.pull(reference, { headers: auth ? { "X-Registry-Auth": auth.x_registry_auth } : {} });
   * ```
   */
  pullCredentials(imageId: string, options?: RequestOptions): APIPromise<PullCredentials> {
    return respond(
      this.#ctx.raw.POST("/sandbox-images/{image_id}/pull-credentials", {
        params: { path: { image_id: imageId } },
        ...this.#ctx.init(options, { repeatable: true }),
      }),
    );
  }
}
