import { generateApiToken, hashApiToken } from "../auth/api-token.js";
import type { ApiTokenRecord, NewApiToken, TokenScope } from "../db/records.js";

export interface ApiTokenServiceDeps {
  tokens: {
    insert(t: NewApiToken): Promise<ApiTokenRecord>;
    list(): Promise<ApiTokenRecord[]>;
    revoke(id: string, at: Date): Promise<boolean>;
  };
  newId: () => string;
  now: () => Date;
}

export interface CreateApiTokenInput {
  name: string;
  scope: TokenScope;
  /** null: every workspace. */
  workspaceIds: string[] | null;
}

/** Issues, lists and revokes API tokens. The token is shown once, at creation; only its hash is kept. */
export function createApiTokenService(deps: ApiTokenServiceDeps) {
  return {
    async create(input: CreateApiTokenInput): Promise<{ token: string; record: ApiTokenRecord }> {
      const token = generateApiToken();
      const record = await deps.tokens.insert({
        id: deps.newId(),
        name: input.name,
        scope: input.scope,
        workspaceIds: input.workspaceIds,
        tokenHash: hashApiToken(token),
        createdAt: deps.now(),
      });
      return { token, record };
    },
    list: () => deps.tokens.list(),
    revoke: (id: string) => deps.tokens.revoke(id, deps.now()),
  };
}
