/**
 * The audit trail of pull-credential hand-outs: who asked, for which image and registry, and
 * what they got (`issued` or the refusal code). Never the secret.
 */
import type { Db } from "../client.js";
import { pullCredentialEvents } from "../schema.js";

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
  return {
    async record(event: PullCredentialEvent): Promise<void> {
      await db.insert(pullCredentialEvents).values({
        id: event.id,
        workspaceId: event.workspaceId,
        imageId: event.imageId,
        registryId: event.registryId,
        tokenId: event.tokenId,
        outcome: event.outcome,
        createdAt: event.createdAt,
      });
    },
  };
}
