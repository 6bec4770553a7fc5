import { describe, expect, it } from "vitest";
import type { IdempotencyRecord } from "../db/repositories/idempotency-keys.js";
import { createIdempotencyService, IDEMPOTENCY_KEY_TTL_MS, IDEMPOTENCY_LEASE_MS, type IdempotencyServiceDeps } from "./idempotency.js";

const SCOPE = { tokenId: "t1", workspaceId: "ws", key: "k" };
const T0 = new Date("2026-11-29T12:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

/** An in-memory key table with the repository's semantics, and a readable "fingerprint". */
function setup(
  options: {
    /** Claims lost to a row that is gone again (released, swept) by the time it is read. */
    races?: number;
    /** What the sweep fails with. */
    sweepFault?: Error;
    onSweepError?: IdempotencyServiceDeps["onSweepError"];
  } = {},
) {
  let row: IdempotencyRecord | null = null;
  let now = T0;
  let racesLost = 0;
  const calls: string[] = [];
  const keys: IdempotencyServiceDeps["keys"] = {
    async claim(scope, claim) {
      calls.push("claim");
      // A claim loop that never ends fails here rather than hanging the run.
      if (calls.filter((c) => c === "claim").length > 4) throw new Error("claimed more than 4 times");
      if (racesLost < (options.races ?? 0)) {
        racesLost++;
        return false;
      }
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
      if (options.sweepFault) throw options.sweepFault;
      return 0;
    },
  };
  const service = createIdempotencyService({
    keys,
    cipher: { fingerprint: (data) => `k1:${data}`, matchesFingerprint: (stored, data) => stored === `k1:${data}` },
    now: () => now,
    onSweepError: options.onSweepError,
  });
  return { service, calls, setNow: (d: Date) => (now = d), row: () => row, setRow: (r: IdempotencyRecord) => (row = r) };
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

describe("idempotency service: races on the key", () => {
  const claimsAndReads = (calls: string[]) => calls.filter((c) => c === "claim" || c === "find");

  it("a key freed between the insert and the read (released, swept) is claimed on the second try", async () => {
    const { service, calls } = setup({ races: 1 });

    expect((await service.claim(SCOPE, "A")).kind).toBe("run");
    expect(claimsAndReads(calls)).toEqual(["claim", "find", "claim"]);
  });

  it("two races lost in a row: in progress, retry after a second, having tried exactly twice", async () => {
    const { service, calls } = setup({ races: 3 });

    expect(await service.claim(SCOPE, "A")).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    expect(claimsAndReads(calls)).toEqual(["claim", "find", "claim", "find"]);
  });
});

describe("idempotency service: replays", () => {
  it("replays an answer stored without headers or body as empty ones", async () => {
    const { service, setRow } = setup();
    setRow({
      ...SCOPE,
      fingerprint: "k1:DELETE /registries/x",
      leaseUntil: at(IDEMPOTENCY_LEASE_MS),
      createdAt: T0,
      expiresAt: at(IDEMPOTENCY_KEY_TTL_MS),
      state: "answered",
      responseStatus: 204,
      responseHeaders: null,
      responseBody: null,
    });

    expect(await service.claim(SCOPE, "DELETE /registries/x")).toEqual({ kind: "replay", answer: { status: 204, headers: {}, body: "" } });
  });
});

describe("idempotency service: sweeping", () => {
  /** Lets the sweep's rejection, and anything it leaves unhandled, run its course. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it("a failed sweep is reported, and the request runs all the same", async () => {
    const fault = new Error("database unavailable");
    const reported: unknown[] = [];
    const { service } = setup({ sweepFault: fault, onSweepError: (error) => reported.push(error) });

    expect((await service.claim(SCOPE, "A")).kind).toBe("run");
    await settle();

    expect(reported).toEqual([fault]);
  });

  it("a failed sweep with nowhere to report it is dropped, leaving no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", listener);
    try {
      const { service } = setup({ sweepFault: new Error("database unavailable") });

      expect((await service.claim(SCOPE, "A")).kind).toBe("run");
      await settle();
    } finally {
      process.off("unhandledRejection", listener);
    }

    expect(unhandled).toEqual([]);
  });
});
