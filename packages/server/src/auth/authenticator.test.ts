import { describe, expect, it, vi } from "vitest";
import type { ApiTokenRecord } from "../db/records.js";
import { generateApiToken, hashApiToken } from "./api-token.js";
import { createAuthenticator } from "./authenticator.js";

function record(overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord {
  return {
    id: "t1",
    name: "ci",
    scope: "workspace",
    workspaceIds: ["a"],
    createdAt: new Date(0),
    lastUsedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

describe("createAuthenticator", () => {
  it("resolves a stored token by its hash to a principal", async () => {
    const token = generateApiToken();
    const findActiveByHash = vi.fn(async (hash: string) => (hash === hashApiToken(token) ? record() : null));
    const authenticate = createAuthenticator({ tokens: { findActiveByHash, touchLastUsed: async () => {} } });
    const principal = await authenticate(token);
    expect(principal).toMatchObject({ tokenId: "t1", scope: "workspace" });
    expect([...principal!.workspaceIds!]).toEqual(["a"]);
    expect(findActiveByHash).toHaveBeenCalledWith(hashApiToken(token));
  });

  it("rejects malformed tokens without asking the database", async () => {
    const findActiveByHash = vi.fn(async () => record());
    const authenticate = createAuthenticator({ tokens: { findActiveByHash, touchLastUsed: async () => {} } });
    expect(await authenticate("mbx_not-a-token")).toBeNull();
    expect(await authenticate(generateApiToken().slice(0, -1) + "x")).toBeNull();
    expect(findActiveByHash).not.toHaveBeenCalled();
  });

  it("accepts the bootstrap token for every workspace, without a lookup", async () => {
    const bootstrapToken = "mbx_bootstrap_for_automation_only";
    const findActiveByHash = vi.fn(async () => null);
    const authenticate = createAuthenticator({ tokens: { findActiveByHash, touchLastUsed: async () => {} }, bootstrapToken });
    expect(await authenticate(bootstrapToken)).toEqual({ tokenId: "bootstrap", scope: "workspace", workspaceIds: null });
    expect(findActiveByHash).not.toHaveBeenCalled();
  });

  it("caches lookups for the TTL, then asks again (revocation takes effect)", async () => {
    let now = 0;
    const token = generateApiToken();
    let stored: ApiTokenRecord | null = record();
    const findActiveByHash = vi.fn(async () => stored);
    const authenticate = createAuthenticator({
      tokens: { findActiveByHash, touchLastUsed: async () => {} },
      now: () => now,
      cacheTtlMs: 1000,
    });
    expect(await authenticate(token)).not.toBeNull();
    stored = null;
    now = 999;
    expect(await authenticate(token)).not.toBeNull();
    now = 1000;
    expect(await authenticate(token)).toBeNull();
    expect(findActiveByHash).toHaveBeenCalledTimes(2);
  });

  it("writes last_used_at at most once per interval", async () => {
    let now = 0;
    const touchLastUsed = vi.fn(async () => {});
    const authenticate = createAuthenticator({
      tokens: { findActiveByHash: async () => record(), touchLastUsed },
      now: () => now,
      cacheTtlMs: 0,
      touchIntervalMs: 60_000,
    });
    const token = generateApiToken();
    for (now = 0; now < 60_000; now += 10_000) await authenticate(token);
    expect(touchLastUsed).toHaveBeenCalledTimes(1);
    now = 60_000;
    await authenticate(token);
    expect(touchLastUsed).toHaveBeenCalledTimes(2);
  });
});
