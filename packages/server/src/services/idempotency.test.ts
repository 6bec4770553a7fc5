import { describe, expect, it } from "vitest";
import type { IdempotencyRecord } from "../db/repositories/idempotency-keys.js";
import { createIdempotencyService, IDEMPOTENCY_KEY_TTL_MS, IDEMPOTENCY_LEASE_MS, type IdempotencyServiceDeps } from "./idempotency.js";

const SCOPE = { tokenId: "t1", workspaceId: "ws", key: "k" };
const T0 = new Date("2026-11-29T12:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

/** An in-memory key table with the repository's semantics, and a readable "fingerprint". */
function setup() {
  let row: IdempotencyRecord | null = null;
  let now = T0;
  const calls: string[] = [];
  const keys: IdempotencyServiceDeps["keys"] = {
    async claim(scope, claim) {
      calls.push("claim");
      if (row) return false;
      row = { ...scope, ...claim, state: "running", responseStatus: null, responseHeaders: null, responseBody: null };
      return true;
    },
    async find() {
      calls.push("find");
      return row;
    },
    async takeOver(scope, claim, when) {
      calls.push("takeOver");
      if (!row || !(row.expiresAt <= when || (row.state === "running" && row.leaseUntil <= when))) return false;
      row = { ...scope, ...claim, state: "running", responseStatus: null, responseHeaders: null, responseBody: null };
      return true;
    },
    async answer(_scope, leaseUntil, answer) {
      if (!row || row.state !== "running" || row.leaseUntil.getTime() !== leaseUntil.getTime()) return false;
      row = { ...row, state: "answered", responseStatus: answer.status, responseHeaders: answer.headers, responseBody: answer.body };
      return true;
    },
    async release(_scope, leaseUntil) {
      if (row?.state === "running" && row.leaseUntil.getTime() === leaseUntil.getTime()) row = null;
    },
    async deleteExpired() {
      calls.push("sweep");
      return 0;
    },
  };
  const service = createIdempotencyService({
    keys,
    cipher: { fingerprint: (data) => `k1:${data}`, matchesFingerprint: (stored, data) => stored === `k1:${data}` },
    now: () => now,
  });
  return { service, calls, setNow: (d: Date) => (now = d), row: () => row };
}

const ANSWER = { status: 201, headers: { etag: '"1.abcdefgh"' }, body: '{"id":"x"}' };

describe("idempotency service", () => {
  it("runs the first request, then replays its answer for the same request", async () => {
    const { service } = setup();
    const first = await service.claim(SCOPE, "POST /registries {}");
    expect(first.kind).toBe("run");
    if (first.kind !== "run") throw new Error("unreachable");
    expect(await service.claim(SCOPE, "POST /registries {}")).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    await first.answer(ANSWER);
    expect(await service.claim(SCOPE, "POST /registries {}")).toEqual({ kind: "replay", answer: ANSWER });
  });

  it("the key with another request is reused, whether running or answered", async () => {
    const { service } = setup();
    const first = await service.claim(SCOPE, "A");
    expect(await service.claim(SCOPE, "B")).toEqual({ kind: "reused" });
    if (first.kind === "run") await first.answer(ANSWER);
    expect(await service.claim(SCOPE, "B")).toEqual({ kind: "reused" });
  });

  it("a released key (the request did nothing) runs again", async () => {
    const { service } = setup();
    const first = await service.claim(SCOPE, "A");
    if (first.kind === "run") await first.release();
    expect((await service.claim(SCOPE, "B")).kind).toBe("run");
  });

  it("a running key past its lease (a dead holder) is taken over, and the old holder can no longer answer", async () => {
    const { service, setNow, row } = setup();
    const first = await service.claim(SCOPE, "A");
    setNow(at(IDEMPOTENCY_LEASE_MS));
    const second = await service.claim(SCOPE, "A");
    expect(second.kind).toBe("run");
    if (first.kind === "run") await first.answer({ ...ANSWER, body: "stale" });
    expect(row()?.state).toBe("running");
    if (second.kind === "run") await second.answer(ANSWER);
    expect(row()).toMatchObject({ state: "answered", responseBody: ANSWER.body });
  });

  it("an expired key is free again, even for another request", async () => {
    const { service, setNow } = setup();
    const first = await service.claim(SCOPE, "A");
    if (first.kind === "run") await first.answer(ANSWER);
    setNow(at(IDEMPOTENCY_KEY_TTL_MS - 1));
    expect((await service.claim(SCOPE, "B")).kind).toBe("reused");
    setNow(at(IDEMPOTENCY_KEY_TTL_MS));
    expect((await service.claim(SCOPE, "B")).kind).toBe("run");
  });

  it("sweeps expired keys at most every ten minutes per instance", async () => {
    const { service, calls, setNow } = setup();
    await service.claim(SCOPE, "A");
    await service.claim(SCOPE, "A");
    setNow(at(10 * 60 * 1000));
    await service.claim(SCOPE, "A");
    expect(calls.filter((c) => c === "sweep")).toHaveLength(2);
  });
});
