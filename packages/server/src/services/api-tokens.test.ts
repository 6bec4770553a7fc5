import { describe, expect, it, vi } from "vitest";
import { hashApiToken, isWellFormedApiToken } from "../auth/api-token.js";
import type { ApiTokenListQuery, ApiTokenRecord, NewApiToken } from "../db/records.js";
import { DomainError } from "../errors.js";
import { createApiTokenService, tokenNotFound, type ApiTokenServiceDeps } from "./api-tokens.js";

const NOW = new Date("2024-05-01T12:00:00.000Z");

/** The id of the n-th token made (UUIDv7-shaped: later ids sort after earlier ones). */
const idOf = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;

/** The token repository in memory, as the port describes it; `insert` keeps what it was given. */
function memoryTokens() {
  const rows = new Map<string, ApiTokenRecord>();
  const newestFirst = () => [...rows.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  const tokens = {
    insert: vi.fn(async (t: NewApiToken): Promise<ApiTokenRecord> => {
      const row: ApiTokenRecord = {
        id: t.id,
        name: t.name,
        scope: t.scope,
        workspaceIds: t.workspaceIds,
        createdAt: t.createdAt,
        lastUsedAt: null,
        revokedAt: null,
        createdBy: t.createdBy ?? null,
      };
      rows.set(row.id, row);
      return row;
    }),
    list: async () => newestFirst(),
    page: vi.fn(async (q: ApiTokenListQuery) =>
      newestFirst()
        .filter((r) => q.revoked === undefined || (r.revokedAt !== null) === q.revoked)
        .filter((r) => q.beforeId === undefined || r.id < q.beforeId)
        .slice(0, q.limit),
    ),
    findById: async (id: string) => rows.get(id) ?? null,
    revoke: async (id: string, at: Date) => {
      const row = rows.get(id);
      if (!row || row.revokedAt !== null) return false;
      rows.set(id, { ...row, revokedAt: at });
      return true;
    },
  } satisfies ApiTokenServiceDeps["tokens"];
  return tokens;
}

function service(deps: Partial<ApiTokenServiceDeps> = {}) {
  const tokens = memoryTokens();
  let made = 0;
  const onRevoked = vi.fn<(tokenId: string) => void>();
  const svc = createApiTokenService({ tokens, newId: () => idOf(++made), now: () => NOW, onRevoked, ...deps });
  return { tokens, onRevoked, svc };
}

describe("createApiTokenService: create", () => {
  it("stores only the hash of the token it hands back, under a new id, with the name normalised and workspaces once each", async () => {
    const { tokens, svc } = service();
    const { token, record } = await svc.create({ name: "Cafe\u0301 CI", scope: "workspace", workspaceIds: ["ws-a", "ws-b", "ws-a"] });

    expect(isWellFormedApiToken(token)).toBe(true);
    expect(tokens.insert).toHaveBeenCalledTimes(1);
    expect(tokens.insert.mock.calls[0]![0]).toStrictEqual({
      id: idOf(1),
      name: "Café CI",
      scope: "workspace",
      workspaceIds: ["ws-a", "ws-b"],
      tokenHash: hashApiToken(token),
      createdAt: NOW,
    });
    expect(record).toEqual({
      id: idOf(1),
      name: "Café CI",
      scope: "workspace",
      workspaceIds: ["ws-a", "ws-b"],
      createdAt: NOW,
      lastUsedAt: null,
      revokedAt: null,
      createdBy: null,
    });
  });

  it("records who made the token when told", async () => {
    const { tokens, svc } = service();
    const { record } = await svc.create({ name: "ci", scope: "admin", workspaceIds: null, createdBy: "first-start" });
    expect(tokens.insert.mock.calls[0]![0]).toMatchObject({ workspaceIds: null, createdBy: "first-start" });
    expect(record.createdBy).toBe("first-start");
  });

  it("hands out a different token each time", async () => {
    const { svc } = service();
    const a = await svc.create({ name: "a", scope: "provisioner", workspaceIds: ["ws-a"] });
    const b = await svc.create({ name: "b", scope: "provisioner", workspaceIds: ["ws-a"] });
    expect(a.token).not.toBe(b.token);
  });

  it("refuses an admin token limited to some workspaces, naming the field and what to send instead", async () => {
    const { tokens, svc } = service();
    const refusal = svc.create({ name: "ci", scope: "admin", workspaceIds: ["ws-a"] });
    await expect(refusal).rejects.toBeInstanceOf(DomainError);
    await expect(refusal).rejects.toMatchObject({
      code: "validation_failed",
      detail: "An admin token is granted every workspace: send all_workspaces: true instead of workspaces.",
      fieldErrors: [
        {
          path: "/body/workspaces",
          message: "must be left out for an admin token (admin tokens are granted every workspace: send all_workspaces: true)",
        },
      ],
    });
    expect(tokens.insert).not.toHaveBeenCalled();
  });

  it("refuses a name that breaks a naming rule, storing nothing", async () => {
    const { tokens, svc } = service();
    await expect(svc.create({ name: " ci", scope: "workspace", workspaceIds: ["ws-a"] })).rejects.toMatchObject({
      code: "validation_failed",
      fieldErrors: [{ path: "/body/name", message: "must not begin or end with whitespace" }],
    });
    expect(tokens.insert).not.toHaveBeenCalled();
  });
});

describe("createApiTokenService: page", () => {
  async function withTokens(count: number) {
    const made = service();
    for (let i = 0; i < count; i++) await made.svc.create({ name: `t${i}`, scope: "workspace", workspaceIds: ["ws-a"] });
    return made;
  }

  it("asks for one row more than the page, and gives a cursor that continues after the page's last token", async () => {
    const { tokens, svc } = await withTokens(5);
    const first = await svc.page({ limit: 2 });
    expect(tokens.page).toHaveBeenLastCalledWith({ revoked: undefined, beforeId: undefined, limit: 3 });
    expect(first.items.map((t) => t.id)).toEqual([idOf(5), idOf(4)]);
    expect(first.nextCursor).toEqual(expect.any(String));

    const second = await svc.page({ limit: 2, cursor: first.nextCursor! });
    expect(tokens.page).toHaveBeenLastCalledWith({ revoked: undefined, beforeId: idOf(4), limit: 3 });
    expect(second.items.map((t) => t.id)).toEqual([idOf(3), idOf(2)]);

    const last = await svc.page({ limit: 2, cursor: second.nextCursor! });
    expect(last).toEqual({ items: [expect.objectContaining({ id: idOf(1) })], nextCursor: null });
  });

  it("passes the revoked filter on, and refuses a cursor replayed with another filter", async () => {
    const { tokens, svc } = await withTokens(3);
    await svc.revoke(idOf(1));
    await svc.revoke(idOf(2));
    const revoked = await svc.page({ limit: 1, revoked: true });
    expect(tokens.page).toHaveBeenLastCalledWith({ revoked: true, beforeId: undefined, limit: 2 });
    expect(revoked.items.map((t) => t.id)).toEqual([idOf(2)]);

    await expect(svc.page({ limit: 1, revoked: false, cursor: revoked.nextCursor! })).rejects.toMatchObject({
      code: "invalid_cursor",
      detail: "This cursor was issued for other filters; start again without it.",
    });
    expect((await svc.page({ limit: 1, revoked: true, cursor: revoked.nextCursor! })).items.map((t) => t.id)).toEqual([idOf(1)]);
  });
});

describe("createApiTokenService: get, list and revoke", () => {
  it("gets a token by id, and answers not_found for one that does not exist", async () => {
    const { svc } = service();
    const { record } = await svc.create({ name: "ci", scope: "workspace", workspaceIds: ["ws-a"] });
    expect(await svc.get(record.id)).toEqual(record);
    const missing = svc.get(idOf(99));
    await expect(missing).rejects.toBeInstanceOf(DomainError);
    await expect(missing).rejects.toMatchObject({ code: "not_found", detail: "Token not found." });
  });

  it("lists every token, revoked ones included, newest first", async () => {
    const { svc } = service();
    await svc.create({ name: "a", scope: "workspace", workspaceIds: ["ws-a"] });
    await svc.create({ name: "b", scope: "workspace", workspaceIds: ["ws-a"] });
    await svc.revoke(idOf(1));
    expect((await svc.list()).map((t) => [t.name, t.revokedAt])).toEqual([
      ["b", null],
      ["a", NOW],
    ]);
  });

  it("revokes an active token and tells this process's cache at once", async () => {
    const { svc, onRevoked } = service();
    const { record } = await svc.create({ name: "ci", scope: "workspace", workspaceIds: ["ws-a"] });
    expect(await svc.revoke(record.id)).toBe("revoked");
    expect(onRevoked.mock.calls).toEqual([[record.id]]);
    expect((await svc.get(record.id)).revokedAt).toEqual(NOW);
  });

  it("tells a token revoked before from one that never existed, telling the cache nothing", async () => {
    const { svc, onRevoked } = service();
    const { record } = await svc.create({ name: "ci", scope: "workspace", workspaceIds: ["ws-a"] });
    await svc.revoke(record.id);
    expect(await svc.revoke(record.id)).toBe("already_revoked");
    expect(await svc.revoke(idOf(99))).toBe("not_found");
    expect(onRevoked).toHaveBeenCalledTimes(1);
  });

  it("revokes without a cache to tell", async () => {
    const { svc } = service({ onRevoked: undefined });
    const { record } = await svc.create({ name: "ci", scope: "workspace", workspaceIds: ["ws-a"] });
    expect(await svc.revoke(record.id)).toBe("revoked");
  });
});

describe("tokenNotFound", () => {
  it("is a not_found error that names a token", () => {
    expect(tokenNotFound()).toMatchObject({ code: "not_found", detail: "Token not found." });
  });
});
