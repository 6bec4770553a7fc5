import { describe, expect, it } from "vitest";
import { createExchangeCache, type ExchangeOutcome } from "./exchange-cache.js";

const T0 = new Date("2026-11-29T12:00:00.000Z").getTime();
const HOUR = 3600_000;

function setup() {
  let now = T0;
  const cache = createExchangeCache({ now: () => new Date(now) });
  let calls = 0;
  let answer: () => ExchangeOutcome = () => ({ ok: true, token: { username: "AWS", password: `t${calls}`, expiresAt: new Date(now + 12 * HOUR) } });
  const exchange = async () => {
    calls++;
    return answer();
  };
  return {
    cache,
    exchange,
    calls: () => calls,
    at: (ms: number) => void (now = T0 + ms),
    answer: (next: () => ExchangeOutcome) => void (answer = next),
  };
}

describe("the exchange cache", () => {
  it("answers a token from the cache until half its lifetime is left, then exchanges again", async () => {
    const t = setup();
    const first = await t.cache.get("r1", "f", t.exchange);
    t.at(6 * HOUR - 1);
    expect(await t.cache.get("r1", "f", t.exchange)).toBe(first);
    expect(t.calls()).toBe(1);
    t.at(6 * HOUR);
    expect(await t.cache.get("r1", "f", t.exchange)).not.toBe(first);
    expect(t.calls()).toBe(2);
  });

  it("remembers a failure for 60 s", async () => {
    const t = setup();
    t.answer(() => ({ ok: false, reason: "refused" }));
    expect(await t.cache.get("r1", "f", t.exchange)).toEqual({ ok: false, reason: "refused" });
    t.at(59_999);
    await t.cache.get("r1", "f", t.exchange);
    expect(t.calls()).toBe(1);
    t.at(60_000);
    await t.cache.get("r1", "f", t.exchange);
    expect(t.calls()).toBe(2);
  });

  it("never answers another credential's token: a new fingerprint is a miss", async () => {
    const t = setup();
    await t.cache.get("r1", "old key", t.exchange);
    await t.cache.get("r1", "new key", t.exchange);
    await t.cache.get("r2", "old key", t.exchange);
    expect(t.calls()).toBe(3);
  });

  it("shares one exchange between concurrent misses, and caches no throw", async () => {
    const t = setup();
    const both = await Promise.all([t.cache.get("r1", "f", t.exchange), t.cache.get("r1", "f", t.exchange)]);
    expect(both[0]).toBe(both[1]);
    expect(t.calls()).toBe(1);
    const failing = async (): Promise<ExchangeOutcome> => {
      throw new Error("bug");
    };
    await expect(t.cache.get("r2", "f", failing)).rejects.toThrow("bug");
    await t.cache.get("r2", "f", t.exchange);
    expect(t.calls()).toBe(2);
  });
});
