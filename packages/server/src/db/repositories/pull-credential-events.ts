/**
 * The audit trail of pull-credential hand-outs: who asked, for which image and registry, and
 * what they got (`issued` or the refusal code). Never the secret.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { pullCredentialEvents, registries } from "../schema.js";

export interface PullCredentialEvent {
  id: string;
  workspaceId: string;
  imageId: string;
  registryId: string | null;
  tokenId: string;
  outcome: string;
  createdAt: Date;
}

export type PullCredentialEventRepository = ReturnType<typeof createPullCredentialEventRepository>;

export function createPullCredentialEventRepository(db: Db) {
  // Every event, granted or refused, goes through this one statement, built once (a named
  // prepared statement on postgres.js; PGlite ignores the name): a data-modifying CTE marks the
  // registry used, then the event is inserted. PostgreSQL runs a data-modifying WITH to completion
  // even though the INSERT does not read it, and the statement is atomic: the event and the
  // touch are written together or not at all.
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
    /** Records an event without marking any registry used (refusals). */
    async record(event: PullCredentialEvent): Promise<void> {
      await write(event, null);
    },

    /**
     * Records an `issued` event and, in the same statement, marks its registry used at
     * `createdAt` (never moving `last_used_at` backwards; a deleted registry is left alone).
     * With no registry (a public image), only the event is written.
     */
    async recordIssued(event: Omit<PullCredentialEvent, "outcome">): Promise<void> {
      await write({ ...event, outcome: "issued" }, event.registryId);
    },
  };
}
