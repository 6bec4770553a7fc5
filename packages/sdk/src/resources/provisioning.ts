import type { RequestOptions } from "../request-options.js";
import { unwrap } from "../response.js";
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
   * @example
   * ```ts
   * const provisioner = createClient({ baseUrl, token: process.env.MODBOX_PROVISIONER_TOKEN!, workspaceId });
   * const { reference, auth } = await provisioner.provisioning.pullCredentials(imageId);
   * await docker.pull(reference, { headers: auth ? { "X-Registry-Auth": auth.x_registry_auth } : {} });
   * ```
   */
  pullCredentials(imageId: string, options?: RequestOptions): Promise<PullCredentials> {
    return unwrap(
      this.#ctx.raw.POST("/sandbox-images/{image_id}/pull-credentials", {
        params: { path: { image_id: imageId } },
        ...this.#ctx.init(options),
      }),
    );
  }
}
