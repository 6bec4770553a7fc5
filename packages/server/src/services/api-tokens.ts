import { generateApiToken, hashApiToken } from "../auth/api-token.js";
import type { ApiTokenListQuery, ApiTokenRecord, NewApiToken, TokenScope } from "../db/records.js";
import { DomainError } from "../errors.js";
import { normaliseNameOrThrow } from "./names.js";
import { decodeCursor, toPage } from "./pagination.js";

export interface ApiTokenServiceDeps {
  tokens: {
    insert(t: NewApiToken): Promise<ApiTokenRecord>;
    list(): Promise<ApiTokenRecord[]>;
    page(q: ApiTokenListQuery): Promise<ApiTokenRecord[]>;
    findById(id: string): Promise<ApiTokenRecord | null>;
    /** Revokes and announces it to every server (NOTIFY); false when missing or already revoked. */
    revoke(id: string, at: Date): Promise<boolean>;
  };
  newId: () => string;
  now: () => Date;
  /**
   * Told at once of every revocation this process makes, so that its own token cache drops the
   * token before the answer is sent (the database's notice reaches every server, this one
   * included, a moment later).
   */
  onRevoked?: (tokenId: string) => void;
}

export interface CreateApiTokenInput {
  name: string;
  scope: TokenScope;
  /** null: every workspace. */
  workspaceIds: string[] | null;
  /** Who makes it: a token id, `bootstrap`, `cli` or `first-start` (see the column). */
  createdBy?: string;
}

export interface ListApiTokensInput {
  limit: number;
  cursor?: string | undefined;
  revoked?: boolean | undefined;
}

/** What a revocation found: the token was active, had been revoked before, or never existed. */
export type RevokeOutcome = "revoked" | "already_revoked" | "not_found";

export type ApiTokenService = ReturnType<typeof createApiTokenService>;

/**
 * Issues, lists and revokes API tokens. The token is shown once, at creation; only its hash is
 * kept. Admin tokens are always granted every workspace: an admin can then mint any token, and
 * no token can mint one that holds more than it does (only admins mint).
 */
export function createApiTokenService(deps: ApiTokenServiceDeps) {
  return {
    async create(input: CreateApiTokenInput): Promise<{ token: string; record: ApiTokenRecord }> {
      if (input.scope === "admin" && input.workspaceIds !== null) {
        throw new DomainError("validation_failed", "An admin token is granted every workspace: send all_workspaces: true instead of workspaces.", {
          fieldErrors: [{ path: "/body/workspaces", message: "must be left out for an admin token (admin tokens are granted every workspace: send all_workspaces: true)" }],
        });
      }
      const token = generateApiToken();
      const record = await deps.tokens.insert({
        id: deps.newId(),
        name: normaliseNameOrThrow(input.name),
        scope: input.scope,
        workspaceIds: input.workspaceIds === null ? null : [...new Set(input.workspaceIds)],
        tokenHash: hashApiToken(token),
        createdAt: deps.now(),
        ...(input.createdBy !== undefined && { createdBy: input.createdBy }),
      });
      return { token, record };
    },

    /** Every token, revoked ones included, newest first (the command line's `list`). */
    list: () => deps.tokens.list(),

    /** One page of tokens, newest first. */
    async page(input: ListApiTokensInput) {
      const filters = { revoked: input.revoked };
      const beforeId = decodeCursor(input.cursor, filters);
      const rows = await deps.tokens.page({ ...filters, beforeId, limit: input.limit + 1 });
      return toPage(rows, input.limit, filters);
    },

    async get(id: string): Promise<ApiTokenRecord> {
      const found = await deps.tokens.findById(id);
      if (!found) throw tokenNotFound();
      return found;
    },

    /**
     * Revokes the token: every server refuses it within a second (see the repository's
     * `revoke`), this one at once.
     */
    async revoke(id: string): Promise<RevokeOutcome> {
      if (await deps.tokens.revoke(id, deps.now())) {
        deps.onRevoked?.(id);
        return "revoked";
      }
      return (await deps.tokens.findById(id)) ? "already_revoked" : "not_found";
    },
  };
}

export function tokenNotFound(): DomainError {
  return new DomainError("not_found", "Token not found.");
}
