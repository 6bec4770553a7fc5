/**
 * The point of use's read: a sandbox image and the registry it links to, in one prepared
 * statement (one round trip), for pull checks and pull credentials.
 *
 * The registry is joined tombstones included, with its sealed password, so the caller can tell
 * "deleted" (`deletedAt` set, password already wiped) from a live registry. Decrypt only there.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import type { RegistryForUse, SandboxImageRecord } from "../records.js";
import { registries, sandboxImages } from "../schema.js";

/** The image fields a pull needs: its reference, whether it is enabled, and its registry. */
export type PullImage = Pick<SandboxImageRecord, "id" | "workspaceId" | "image" | "tag" | "registryId" | "enabled">;

/** The registry fields a pull needs, tombstones included; never the key id, warnings or verification. */
export type PullRegistry = Pick<
  RegistryForUse,
  | "id"
  | "workspaceId"
  | "name"
  | "server"
  | "username"
  | "email"
  | "enabled"
  | "caCertificate"
  | "deletedAt"
  | "passwordCiphertext"
>;

export interface PullResolution {
  image: PullImage;
  /** null when the image has no registry. A deleted registry is here, with `deletedAt` set. */
  registry: PullRegistry | null;
}

export type PullResolutionRepository = ReturnType<typeof createPullResolutionRepository>;

export function createPullResolutionRepository(db: Db) {
  // Built once: a named prepared statement on postgres.js (parsed and planned once per
  // connection); PGlite ignores the name and runs it through its own query path.
  // The join is on (workspace_id, registry_id), the same pair as the composite foreign key, so a
  // registry of another workspace can never be joined.
  const resolveQuery = db
    .select({
      image: {
        id: sandboxImages.id,
        workspaceId: sandboxImages.workspaceId,
        image: sandboxImages.image,
        tag: sandboxImages.tag,
        registryId: sandboxImages.registryId,
        enabled: sandboxImages.enabled,
      },
      registry: {
        id: registries.id,
        workspaceId: registries.workspaceId,
        name: registries.name,
        server: registries.server,
        username: registries.username,
        email: registries.email,
        enabled: registries.enabled,
        caCertificate: registries.caCertificate,
        deletedAt: registries.deletedAt,
        passwordCiphertext: registries.passwordCiphertext,
      },
    })
    .from(sandboxImages)
    .leftJoin(
      registries,
      and(eq(registries.workspaceId, sandboxImages.workspaceId), eq(registries.id, sandboxImages.registryId)),
    )
    .where(
      and(
        eq(sandboxImages.workspaceId, sql.placeholder("workspaceId")),
        eq(sandboxImages.id, sql.placeholder("imageId")),
      ),
    )
    .prepare("pull_resolution_resolve");

  return {
    /**
     * The image with its linked registry (tombstones included), or null when the image is
     * missing or in another workspace. `registry` is null when the image has none.
     */
    async resolve(workspaceId: string, imageId: string): Promise<PullResolution | null> {
      const [found] = await resolveQuery.execute({ workspaceId, imageId });
      if (!found) return null;
      // drizzle already answers null for a left-joined object whose columns are all null; the
      // id check keeps that true whatever the mapping does.
      return { image: found.image, registry: found.registry?.id ? found.registry : null };
    },
  };
}
