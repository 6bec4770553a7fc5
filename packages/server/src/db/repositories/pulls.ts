/**
 * The pull feature's storage: the point of use's read, and the audit trail of every pull-credential
 * hand-out.
 *
 * The read: a sandbox image and the registry it links to, in one prepared statement (one round
 * trip), for pull checks and pull credentials. The registry is joined tombstones included, with
 * its sealed password, so the caller can tell "deleted" (`deletedAt` set, password already wiped)
 * from a live registry. Decrypt only there.
 *
 * The audit: who asked, for which image and registry, and what they got (`issued` or the refusal
 * code). Never the secret.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import type { RegistryForUse, SandboxImageRecord } from "../records.js";
import type { PullCredentialOutcome, PullCredentialRefusal } from "../pull-credential-outcomes.js";
import { pullCredentialEvents, registries, sandboxImages } from "../schema.js";

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
  | "authType"
  | "caCertificate"
  | "deletedAt"
  | "passwordCiphertext"
>;

export interface PullResolution {
  image: PullImage;
  /** null when the image has no registry. A deleted registry is here, with `deletedAt` set. */
  registry: PullRegistry | null;
}

/** One audit event: who asked (`tokenId`), for which image and registry, and the outcome. */
export interface PullCredentialEvent {
  id: string;
  workspaceId: string;
  imageId: string;
  registryId: string | null;
  tokenId: string;
  outcome: PullCredentialOutcome;
  createdAt: Date;
}

export type PullRepository = ReturnType<typeof createPullRepository>;

export function createPullRepository(db: Db) {
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
        authType: registries.authType,
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

  // Every audit event, granted or refused, goes through this one statement, built once (a named
  // prepared statement on postgres.js; PGlite ignores the name): a data-modifying CTE marks the
  // registry used, then the event is inserted. PostgreSQL runs a data-modifying WITH to completion
  // even though the INSERT does not read it, and the statement is atomic: the event and the
  // registry's `last_used_at` are written together or not at all, so an issued credential is
  // never marked used without its audit row, nor audited without the mark.
  //
  // The touch only moves `last_used_at` forward (`greatest`; null counts as older than anything),
  // only on the live registry of the event's workspace, and only when `touchRegistryId` is set:
  // refusals pass null, and `id = NULL` matches no row.
  const touched = db.$with("touched").as(
    db
      .update(registries)
      .set({ lastUsedAt: sql`greatest(${registries.lastUsedAt}, ${sql.placeholder("touchedAt")}::timestamptz)` })
      .where(
        and(
          eq(registries.workspaceId, sql.placeholder("workspaceId")),
          eq(registries.id, sql.placeholder("touchRegistryId")),
          isNull(registries.deletedAt),
        ),
      )
      .returning({ id: registries.id }),
  );
  const recordQuery = db
    .with(touched)
    .insert(pullCredentialEvents)
    .values({
      id: sql.placeholder("id"),
      workspaceId: sql.placeholder("workspaceId"),
      imageId: sql.placeholder("imageId"),
      registryId: sql.placeholder("registryId"),
      tokenId: sql.placeholder("tokenId"),
      outcome: sql.placeholder("outcome"),
      createdAt: sql.placeholder("createdAt"),
    })
    .prepare("pull_credential_events_record");

  function write(event: PullCredentialEvent, touchRegistryId: string | null): Promise<unknown> {
    return recordQuery.execute({
      id: event.id,
      workspaceId: event.workspaceId,
      imageId: event.imageId,
      registryId: event.registryId,
      tokenId: event.tokenId,
      outcome: event.outcome,
      createdAt: event.createdAt,
      // A raw parameter (no column to encode it), cast in the SQL: an ISO string works on both drivers.
      touchedAt: event.createdAt.toISOString(),
      touchRegistryId,
    });
  }

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

    /** Audits a refusal, without marking any registry used. */
    async recordRefusal(event: PullCredentialEvent & { outcome: PullCredentialRefusal }): Promise<void> {
      await write(event, null);
    },

    /**
     * Audits an `issued` hand-out and, in the same statement, marks its registry used at
     * `createdAt` (never moving `last_used_at` backwards; a deleted registry is left alone).
     * With no registry (a public image), only the event is written.
     */
    async recordIssued(event: Omit<PullCredentialEvent, "outcome">): Promise<void> {
      await write({ ...event, outcome: "issued" }, event.registryId);
    },
  };
}
