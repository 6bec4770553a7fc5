import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyDatabaseError } from "../errors.js";
import type { NewApiToken } from "../records.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { uuidv7 } from "@modbox/testkit/ids";
import { createApiTokenRepository } from "./api-tokens.js";
import { FIXTURE_TIME } from "@modbox/testkit/fixtures";

const T1 = new Date("2025-01-03T03:04:05.999Z");
const T2 = new Date("2025-01-04T03:04:05.001Z");

function newToken(overrides: Partial<NewApiToken> = {}): NewApiToken {
  return {
    id: uuidv7(),
    name: "ci",
    scope: "workspace",
    workspaceIds: ["ws-a", "ws-b"],
    tokenHash: createHash("sha256").update(randomBytes(32)).digest("hex"),
    createdAt: FIXTURE_TIME,
    ...overrides,
  };
}

describe.each(backends)("API token repository on %s", (backend) => {
  let testDb: TestDatabase;
  let tokens: ReturnType<typeof createApiTokenRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    tokens = createApiTokenRepository(testDb.handle.db);
  });
  afterAll(() => testDb?.dispose());

  it.each([
    ["granted workspaces", newToken()],
    ["granted every workspace", newToken({ scope: "provisioner", workspaceIds: null })],
    ["granted no workspace", newToken({ workspaceIds: [] })],
    ["of admin scope, with who made it", newToken({ scope: "admin", workspaceIds: null, createdBy: "cli" })],
  ])("inserts and finds a token %s, without its hash", async (_, t) => {
    const { tokenHash, ...rest } = t;
    const expected = { createdBy: null, ...rest, lastUsedAt: null, revokedAt: null };

    expect(await tokens.insert(t)).toStrictEqual(expected);
    expect(await tokens.findActiveByHash(tokenHash)).toStrictEqual(expected);
    expect(await tokens.findById(t.id)).toStrictEqual(expected);
  });

  it("a new repository finds an active token by its hash, and no other", async () => {
    // A repository of its own: its lookup is built by createApiTokenRepository, and the mutation
    // run credits what runs in a hook (the shared `tokens`) to no test.
    const fresh = createApiTokenRepository(testDb.handle.db);
    const t = newToken();
    const { tokenHash, ...rest } = t;
    const expected = { createdBy: null, ...rest, lastUsedAt: null, revokedAt: null };
    await fresh.insert(t);
    await fresh.insert(newToken());

    expect(await fresh.findActiveByHash(tokenHash)).toStrictEqual(expected);
    expect(await fresh.findActiveByHash(newToken().tokenHash)).toBeNull();
  });

  it("refuses an admin token granted some workspaces: admin tokens hold every workspace", async () => {
    const err = await tokens.insert(newToken({ scope: "admin", workspaceIds: ["ws-a"] })).catch((e: unknown) => e);
    expect(classifyDatabaseError(err)).toEqual({ kind: "other", sqlstate: "23514" });
  });

  it("finds no token by an unknown id", async () => {
    expect(await tokens.findById(uuidv7())).toBeNull();
  });

  it("pages tokens newest first by id, active or revoked ones only when asked", async () => {
    const own = [newToken(), newToken(), newToken()];
    for (const t of own) await tokens.insert(t);
    await tokens.revoke(own[1]!.id, T1);
    const [newest, middle, oldest] = [own[2]!.id, own[1]!.id, own[0]!.id];

    expect((await tokens.page({ limit: 2 })).map((r) => r.id)).toEqual([newest, middle]);
    expect((await tokens.page({ limit: 2, beforeId: middle })).map((r) => r.id)[0]).toBe(oldest);
    expect((await tokens.page({ limit: 2, revoked: false })).map((r) => r.id)).toEqual([newest, oldest]);
    expect((await tokens.page({ limit: 1, revoked: true })).map((r) => r.id)).toEqual([middle]);
  });

  it("finds nothing for an unknown hash", async () => {
    expect(await tokens.findActiveByHash("0".repeat(64))).toBeNull();
  });

  it("refuses a duplicate hash", async () => {
    const t = newToken();
    await tokens.insert(t);

    const err = await tokens.insert({ ...newToken(), tokenHash: t.tokenHash }).catch((e: unknown) => e);

    expect(classifyDatabaseError(err)).toEqual({
      kind: "unique_violation",
      constraint: "api_tokens_token_hash_key",
    });
  });

  it("refuses an unknown scope", async () => {
    const err = await tokens.insert(newToken({ scope: "root" as never })).catch((e: unknown) => e);
    expect(classifyDatabaseError(err)).toEqual({ kind: "other", sqlstate: "23514" });
  });

  it("revokes a token once", async () => {
    const t = newToken();
    await tokens.insert(t);

    expect(await tokens.revoke(t.id, T1)).toBe(true);

    expect(await tokens.findActiveByHash(t.tokenHash)).toBeNull();
    expect(await tokens.revoke(t.id, T2)).toBe(false);
    expect((await tokens.list()).find((r) => r.id === t.id)).toMatchObject({ revokedAt: T1 });
  });

  it("answers false when revoking a missing token", async () => {
    expect(await tokens.revoke(uuidv7(), T1)).toBe(false);
  });

  it("records the last use and never moves it backwards", async () => {
    const t = newToken();
    await tokens.insert(t);

    await tokens.touchLastUsed(t.id, T2);
    await tokens.touchLastUsed(t.id, T1);

    expect(await tokens.findActiveByHash(t.tokenHash)).toMatchObject({ lastUsedAt: T2 });
  });

  it("lists every token newest first", async () => {
    const older = newToken({ createdAt: T1 });
    const newer = newToken({ createdAt: T2 });
    await tokens.insert(older);
    await tokens.insert(newer);

    const ids = (await tokens.list()).map((r) => r.id);

    expect(ids.slice(0, 2)).toEqual([newer.id, older.id]);
  });
});
