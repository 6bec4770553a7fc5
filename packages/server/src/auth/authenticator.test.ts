import { describe, expect, it, vi } from "vitest";
import type { ApiTokenRecord } from "../db/records.js";
import { createAddressLimiter } from "./address-limiter.js";
import { generateApiToken, hashApiToken } from "./api-token.js";
import { createAuthenticator, type AuthenticatorDeps } from "./authenticator.js";

function record(overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord {
  return {
    id: "t1",
    name: "ci",
    scope: "workspace",
    workspaceIds: ["a"],
    createdAt: new Date(0),
    lastUsedAt: null,
    revokedAt: null,
    createdBy: null,
    ...overrides,
  };
}

const ADDRESS = "192.0.2.10";

/** A token store: `valid` maps tokens to their records; every lookup is counted. */
function store(valid: Map<string, ApiTokenRecord>) {
  const byHash = () => new Map([...valid].map(([token, r]) => [hashApiToken(token), r]));
  return {
    findActiveByHash: vi.fn(async (hash: string) => byHash().get(hash) ?? null),
    touchLastUsed: vi.fn(async (_id: string, _at: Date) => {}),
  };
}

function authenticatorFor(valid: Map<string, ApiTokenRecord>, deps: Partial<AuthenticatorDeps> = {}) {
  const tokens = store(valid);
  return { tokens, auth: createAuthenticator({ tokens, ...deps }) };
}

describe("createAuthenticator", () => {
  it("resolves a stored token by its hash to a principal", async () => {
    const token = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[token, record()]]));
    const result = await auth.authenticate(token, ADDRESS);
    expect(result).toMatchObject({ kind: "authenticated", principal: { tokenId: "t1", scope: "workspace" } });
    expect(result.kind === "authenticated" && [...result.principal.workspaceIds!]).toEqual(["a"]);
    expect(tokens.findActiveByHash).toHaveBeenCalledWith(hashApiToken(token));
  });

  it("refuses no token and malformed tokens without asking the database", async () => {
    const { tokens, auth } = authenticatorFor(new Map());
    expect(await auth.authenticate(undefined, ADDRESS)).toEqual({ kind: "refused" });
    expect(await auth.authenticate("mbx_not-a-token", ADDRESS)).toEqual({ kind: "refused" });
    expect(await auth.authenticate(generateApiToken().slice(0, -1) + "x", ADDRESS)).toEqual({ kind: "refused" });
    expect(tokens.findActiveByHash).not.toHaveBeenCalled();
  });

  it("accepts the bootstrap token as an admin token for every workspace, without a lookup", async () => {
    const bootstrapToken = "mbx_bootstrap_for_automation_only";
    const { tokens, auth } = authenticatorFor(new Map(), { bootstrapToken });
    expect(await auth.authenticate(bootstrapToken, ADDRESS)).toEqual({
      kind: "authenticated",
      principal: { tokenId: "bootstrap", scope: "admin", workspaceIds: null },
    });
    expect(tokens.findActiveByHash).not.toHaveBeenCalled();
  });

  it("caches lookups for the TTL, then asks again (a revocation without a notice takes effect)", async () => {
    let now = 0;
    const token = generateApiToken();
    const valid = new Map([[token, record()]]);
    const { tokens, auth } = authenticatorFor(valid, { now: () => now, cacheTtlMs: 1000 });
    expect((await auth.authenticate(token, ADDRESS)).kind).toBe("authenticated");
    valid.delete(token);
    now = 999;
    expect((await auth.authenticate(token, ADDRESS)).kind).toBe("authenticated");
    now = 1000;
    expect((await auth.authenticate(token, ADDRESS)).kind).toBe("refused");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
  });

  it("forgets a revoked token at once when told, and only that one", async () => {
    const revoked = generateApiToken();
    const other = generateApiToken();
    const valid = new Map([[revoked, record({ id: "t1" })], [other, record({ id: "t2" })]]);
    const { tokens, auth } = authenticatorFor(valid, { now: () => 0, cacheTtlMs: 60_000 });
    await auth.authenticate(revoked, ADDRESS);
    await auth.authenticate(other, ADDRESS);
    valid.delete(revoked);

    auth.forgetToken("t1");

    expect((await auth.authenticate(revoked, ADDRESS)).kind).toBe("refused");
    expect((await auth.authenticate(other, ADDRESS)).kind).toBe("authenticated");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);
  });

  it("checks every cached token again after forgetAll (notices may have been missed)", async () => {
    const a = generateApiToken();
    const b = generateApiToken();
    const valid = new Map([[a, record({ id: "t1" })], [b, record({ id: "t2" })]]);
    const { tokens, auth } = authenticatorFor(valid, { now: () => 0, cacheTtlMs: 60_000 });
    await auth.authenticate(a, ADDRESS);
    await auth.authenticate(b, ADDRESS);
    valid.delete(a);

    auth.forgetAll();

    expect((await auth.authenticate(a, ADDRESS)).kind).toBe("refused");
    expect((await auth.authenticate(b, ADDRESS)).kind).toBe("authenticated");
    expect((await auth.authenticate(b, ADDRESS)).kind).toBe("authenticated");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(4);
  });

  it("does not trust a lookup that a revocation notice overtook (its read may predate the revocation)", async () => {
    const token = generateApiToken();
    let answer: (r: ApiTokenRecord | null) => void = () => {};
    const findActiveByHash = vi
      .fn<(hash: string) => Promise<ApiTokenRecord | null>>()
      .mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)))
      .mockResolvedValue(null);
    const auth = createAuthenticator({ tokens: { findActiveByHash, touchLastUsed: async () => {} }, now: () => 0, cacheTtlMs: 60_000 });

    const inFlight = auth.authenticate(token, ADDRESS);
    auth.forgetToken("t1");
    answer(record({ id: "t1" }));
    // The request that was in flight is answered from what it read …
    expect((await inFlight).kind).toBe("authenticated");
    // … but the next one asks again, and the revocation holds.
    expect((await auth.authenticate(token, ADDRESS)).kind).toBe("refused");
    expect(findActiveByHash).toHaveBeenCalledTimes(2);
  });

  it("sends one query for concurrent requests with the same token", async () => {
    const token = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[token, record()]]));
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(token, ADDRESS)));
    expect(results.every((r) => r.kind === "authenticated")).toBe(true);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(1);
  });

  it("remembers unknown checksum-valid tokens for the TTL, without asking again", async () => {
    let now = 0;
    const forged = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map(), { now: () => now, cacheTtlMs: 1000 });
    for (now = 0; now < 1000; now += 100) expect((await auth.authenticate(forged, ADDRESS)).kind).toBe("refused");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(1);
    await auth.authenticate(forged, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
  });

  it("keeps unknown tokens in a bounded cache of their own: a flood of forgeries never pushes out a real client", async () => {
    const real = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[real, record()]]), {
      now: () => 0,
      cacheTtlMs: 60_000,
      maxKnownTokens: 4,
      maxUnknownTokens: 4,
    });
    await auth.authenticate(real, ADDRESS);
    const forged = Array.from({ length: 50 }, () => generateApiToken());
    for (const f of forged) expect((await auth.authenticate(f, ADDRESS)).kind).toBe("refused");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(51);

    // The real client's entry is still there: no query.
    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("authenticated");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(51);
    // The last four forgeries are remembered, the first ones were let go (the bound holds).
    for (const f of forged.slice(-4)) await auth.authenticate(f, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(51);
    await auth.authenticate(forged[0]!, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(52);
  });

  it("evicts the known token checked longest ago when its cache is full", async () => {
    const valid = new Map(Array.from({ length: 3 }, (_, i) => [generateApiToken(), record({ id: `t${i}` })] as const));
    const [t0, t1, t2] = [...valid.keys()] as [string, string, string];
    const { tokens, auth } = authenticatorFor(valid, { now: () => 0, cacheTtlMs: 60_000, maxKnownTokens: 2 });
    await auth.authenticate(t0, ADDRESS);
    await auth.authenticate(t1, ADDRESS);
    await auth.authenticate(t2, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);
    await auth.authenticate(t1, ADDRESS);
    await auth.authenticate(t2, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);
    await auth.authenticate(t0, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(4);
  });

  it("writes last_used_at at most once per interval", async () => {
    let now = 0;
    const token = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[token, record()]]), {
      now: () => now,
      cacheTtlMs: 0,
      touchIntervalMs: 60_000,
    });
    for (now = 0; now < 60_000; now += 10_000) await auth.authenticate(token, ADDRESS);
    expect(tokens.touchLastUsed).toHaveBeenCalledTimes(1);
    now = 60_000;
    await auth.authenticate(token, ADDRESS);
    expect(tokens.touchLastUsed).toHaveBeenCalledTimes(2);
  });
});

/** A token store whose every lookup waits until the test answers or fails it, in call order. */
function heldStore() {
  const answers: Array<(r: ApiTokenRecord | null) => void> = [];
  const failures: Array<(err: Error) => void> = [];
  const tokens = {
    findActiveByHash: vi.fn(
      (_hash: string) =>
        new Promise<ApiTokenRecord | null>((resolve, reject) => {
          answers.push(resolve);
          failures.push(reject);
        }),
    ),
    touchLastUsed: vi.fn(async (_id: string, _at: Date) => {}),
  };
  return { tokens, answers, failures };
}

describe("createAuthenticator: caches and lookups in detail", () => {
  it("refuses a request without a token when a bootstrap token is configured", async () => {
    const { tokens, auth } = authenticatorFor(new Map(), { bootstrapToken: "mbx_bootstrap_for_automation_only" });
    expect(await auth.authenticate(undefined, ADDRESS)).toEqual({ kind: "refused" });
    expect(tokens.findActiveByHash).not.toHaveBeenCalled();
  });

  it("trusts a looked-up token for the TTL counted from when it was checked", async () => {
    let now = 10_000;
    const token = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[token, record()]]), { now: () => now, cacheTtlMs: 1_000 });
    await auth.authenticate(token, ADDRESS);
    now = 10_999;
    expect((await auth.authenticate(token, ADDRESS)).kind).toBe("authenticated");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(1);
    now = 11_000;
    await auth.authenticate(token, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
  });

  it("checks a token again after forgetAll even when its last lookup was overtaken by a notice", async () => {
    const token = generateApiToken();
    const { tokens, answers } = heldStore();
    const auth = createAuthenticator({ tokens, now: () => 0, cacheTtlMs: 60_000 });
    const overtaken = auth.authenticate(token, ADDRESS);
    auth.forgetToken("t1");
    answers[0]!(record({ id: "t1" }));
    expect((await overtaken).kind).toBe("authenticated");

    auth.forgetAll();
    const next = auth.authenticate(token, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
    answers[1]!(null);
    expect(await next).toEqual({ kind: "refused" });
  });

  it("keeps sharing the newer lookup of a token when an older one, cut off by forgetAll, is answered", async () => {
    const token = generateApiToken();
    const { tokens, answers } = heldStore();
    const auth = createAuthenticator({ tokens, now: () => 0, cacheTtlMs: 60_000 });
    const first = auth.authenticate(token, ADDRESS);
    auth.forgetAll();
    const second = auth.authenticate(token, ADDRESS);
    answers[0]!(record());
    expect((await first).kind).toBe("authenticated");

    const third = auth.authenticate(token, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
    answers[1]!(record());
    expect((await second).kind).toBe("authenticated");
    expect((await third).kind).toBe("authenticated");
  });

  it("keeps sharing the newer lookup of a token when an older one, cut off by forgetAll, fails", async () => {
    const token = generateApiToken();
    const { tokens, answers, failures } = heldStore();
    const auth = createAuthenticator({ tokens, now: () => 0, cacheTtlMs: 60_000 });
    const first = auth.authenticate(token, ADDRESS);
    auth.forgetAll();
    const second = auth.authenticate(token, ADDRESS);
    failures[0]!(new Error("connection reset"));
    await expect(first).rejects.toThrow("connection reset");

    const third = auth.authenticate(token, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
    answers[1]!(record());
    expect((await second).kind).toBe("authenticated");
    expect((await third).kind).toBe("authenticated");
  });

  it("passes a failed lookup's error to its request, and the next request asks again", async () => {
    const token = generateApiToken();
    const { tokens, answers, failures } = heldStore();
    const auth = createAuthenticator({ tokens, now: () => 0, cacheTtlMs: 60_000 });
    const failed = auth.authenticate(token, ADDRESS);
    failures[0]!(new Error("connection reset"));
    await expect(failed).rejects.toThrow("connection reset");

    const retried = auth.authenticate(token, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(2);
    answers[1]!(record());
    expect((await retried).kind).toBe("authenticated");
  });

  it("remembers exactly maxUnknownTokens unknown tokens, letting the oldest go", async () => {
    const { tokens, auth } = authenticatorFor(new Map(), { now: () => 0, cacheTtlMs: 60_000, maxUnknownTokens: 2 });
    const [f1, f2, f3] = [generateApiToken(), generateApiToken(), generateApiToken()];
    for (const f of [f1, f2, f3]) await auth.authenticate(f, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);
    await auth.authenticate(f2, ADDRESS);
    await auth.authenticate(f3, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);
    await auth.authenticate(f1, ADDRESS);
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(4);
  });

  it("writes last_used_at at most once a minute by default", async () => {
    let now = 0;
    const token = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[token, record()]]), { now: () => now, cacheTtlMs: 0 });
    await auth.authenticate(token, ADDRESS);
    now = 59_999;
    await auth.authenticate(token, ADDRESS);
    expect(tokens.touchLastUsed).toHaveBeenCalledTimes(1);
    now = 60_000;
    await auth.authenticate(token, ADDRESS);
    expect(tokens.touchLastUsed.mock.calls).toEqual([
      ["t1", new Date(0)],
      ["t1", new Date(60_000)],
    ]);
  });

  it("writes last_used_at at the interval it is given", async () => {
    let now = 0;
    const token = generateApiToken();
    const { tokens, auth } = authenticatorFor(new Map([[token, record()]]), { now: () => now, cacheTtlMs: 0, touchIntervalMs: 1_000 });
    await auth.authenticate(token, ADDRESS);
    now = 999;
    await auth.authenticate(token, ADDRESS);
    now = 1_000;
    await auth.authenticate(token, ADDRESS);
    expect(tokens.touchLastUsed).toHaveBeenCalledTimes(2);
  });

  it("remembers when each of several tokens was last written, up to maxKnownTokens of them", async () => {
    let now = 0;
    const valid = new Map(Array.from({ length: 3 }, (_, i) => [generateApiToken(), record({ id: `t${i}` })] as const));
    const [t0, t1, t2] = [...valid.keys()] as [string, string, string];
    const { tokens, auth } = authenticatorFor(valid, { now: () => now, cacheTtlMs: 0, maxKnownTokens: 2 });
    // Two tokens in turn, within the interval: one write each.
    for (const token of [t0, t1, t0, t1]) {
      await auth.authenticate(token, ADDRESS);
      now += 1_000;
    }
    expect(tokens.touchLastUsed.mock.calls.map(([id]) => id)).toEqual(["t0", "t1"]);
    // A third token makes the one written longest ago (t0) be forgotten: it is written again.
    await auth.authenticate(t2, ADDRESS);
    await auth.authenticate(t1, ADDRESS);
    await auth.authenticate(t0, ADDRESS);
    expect(tokens.touchLastUsed.mock.calls.map(([id]) => id)).toEqual(["t0", "t1", "t2", "t0"]);
  });
});

describe("createAuthenticator with a failed-authentication limit per address", () => {
  function limited(valid: Map<string, ApiTokenRecord>, options: { bootstrapToken?: string } = {}) {
    let now = 0;
    const tokens = store(valid);
    const auth = createAuthenticator({
      tokens,
      now: () => now,
      cacheTtlMs: 5_000,
      addressLimiter: createAddressLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now }),
      throttleHoldMs: 250,
      ...options,
    });
    return { tokens, auth, at: (ms: number) => (now = ms) };
  }

  it("answers 429 to unknown tokens from an address over the limit, without a query, until its window ends", async () => {
    const { tokens, auth, at } = limited(new Map());
    for (let i = 0; i < 3; i++) expect((await auth.authenticate(generateApiToken(), ADDRESS)).kind).toBe("refused");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);

    at(20_000);
    expect(await auth.authenticate(generateApiToken(), ADDRESS)).toEqual({ kind: "throttled", retryAfterSeconds: 40, holdMs: 250 });
    expect(await auth.authenticate(undefined, ADDRESS)).toEqual({ kind: "throttled", retryAfterSeconds: 40, holdMs: 250 });
    expect(await auth.authenticate("mbx_garbage", ADDRESS)).toEqual({ kind: "throttled", retryAfterSeconds: 40, holdMs: 250 });
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(3);

    // Another address is not affected.
    expect((await auth.authenticate(generateApiToken(), "192.0.2.11")).kind).toBe("refused");
    // The window ends: the address gets its tries again.
    at(60_000);
    expect((await auth.authenticate(generateApiToken(), ADDRESS)).kind).toBe("refused");
  });

  it("keeps accepting tokens it already knows from that address, even once they are due for a check", async () => {
    const real = generateApiToken();
    const valid = new Map([[real, record()]]);
    const { tokens, auth, at } = limited(valid);
    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("authenticated");
    for (let i = 0; i < 3; i++) await auth.authenticate(generateApiToken(), ADDRESS);
    expect((await auth.authenticate(generateApiToken(), ADDRESS)).kind).toBe("throttled");

    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("authenticated");
    // Past the TTL the known token is checked again (not refused unasked) …
    at(10_000);
    const queries = tokens.findActiveByHash.mock.calls.length;
    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("authenticated");
    expect(tokens.findActiveByHash).toHaveBeenCalledTimes(queries + 1);
    // … and after forgetAll too; a revoked one is then refused.
    auth.forgetAll();
    valid.delete(real);
    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("refused");
    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("throttled");
  });

  it("never throttles the bootstrap token", async () => {
    const bootstrapToken = "mbx_bootstrap_for_automation_only";
    const { auth } = limited(new Map(), { bootstrapToken });
    for (let i = 0; i < 5; i++) await auth.authenticate(generateApiToken(), ADDRESS);
    expect((await auth.authenticate(bootstrapToken, ADDRESS)).kind).toBe("authenticated");
  });

  it("does not let a token an address does not know through after a revocation forgot it", async () => {
    const real = generateApiToken();
    const { auth } = limited(new Map([[real, record({ id: "t1" })]]));
    await auth.authenticate(real, ADDRESS);
    for (let i = 0; i < 3; i++) await auth.authenticate(generateApiToken(), ADDRESS);
    auth.forgetToken("t1");
    expect((await auth.authenticate(real, ADDRESS)).kind).toBe("throttled");
  });
});
