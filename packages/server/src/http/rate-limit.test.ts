import type { Request, Response } from "express";
import { describe, expect, it } from "vitest";
import { rateLimit } from "./rate-limit.js";

/** What one request through the limiter came to: passed on, or the problem it was answered. */
interface Outcome {
  passed: boolean;
  status?: number;
  headers: Record<string, string>;
  body?: Record<string, unknown>;
}

function call(handler: ReturnType<typeof rateLimit>, tokenId: string | undefined): Outcome {
  const outcome: Outcome = { passed: false, headers: {} };
  const req = { principal: tokenId === undefined ? undefined : { tokenId }, originalUrl: "/registries?limit=1" } as unknown as Request;
  const res = {
    setHeader(name: string, value: string) {
      outcome.headers[name.toLowerCase()] = value;
      return res;
    },
    getHeader: (name: string) => outcome.headers[name.toLowerCase()],
    status(code: number) {
      outcome.status = code;
      return res;
    },
    type: () => res,
    send(text: string) {
      outcome.body = JSON.parse(text) as Record<string, unknown>;
      return res;
    },
  } as unknown as Response;
  handler(req, res, () => {
    outcome.passed = true;
  });
  return outcome;
}

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, at: (ms: number) => (now = start + ms) };
}

describe("rateLimit", () => {
  it("lets a token make its allowance in a minute, then answers 429 with the seconds left in the window", () => {
    const time = clock();
    const limit = rateLimit(2, time.now);
    expect(call(limit, "a").passed).toBe(true);
    time.at(1_000);
    expect(call(limit, "a").passed).toBe(true);
    time.at(1_500);
    const refused = call(limit, "a");
    expect(refused.passed).toBe(false);
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("59");
    expect(refused.body).toMatchObject({ status: 429, code: "rate_limited", detail: "Too many requests for this token.", instance: "/registries" });
  });

  it("says at least one second, up to the window's very end", () => {
    const time = clock();
    const limit = rateLimit(1, time.now);
    call(limit, "a");
    time.at(59_999);
    expect(call(limit, "a").headers["retry-after"]).toBe("1");
    time.at(59_000);
    expect(call(limit, "a").headers["retry-after"]).toBe("1");
    time.at(58_999);
    expect(call(limit, "a").headers["retry-after"]).toBe("2");
  });

  it("opens a new window a minute after the first request of the last one", () => {
    const time = clock();
    const limit = rateLimit(1, time.now);
    expect(call(limit, "a").passed).toBe(true);
    time.at(30_000);
    expect(call(limit, "a").passed).toBe(false);
    time.at(60_000);
    expect(call(limit, "a").passed).toBe(true);
    time.at(60_001);
    expect(call(limit, "a").passed).toBe(false);
  });

  it("counts each token on its own", () => {
    const time = clock();
    const limit = rateLimit(1, time.now);
    expect(call(limit, "a").passed).toBe(true);
    expect(call(limit, "b").passed).toBe(true);
    expect(call(limit, "a").passed).toBe(false);
    expect(call(limit, "b").passed).toBe(false);
  });

  it("is off at 0, and for a request without a principal", () => {
    const time = clock();
    const off = rateLimit(0, time.now);
    const on = rateLimit(1, time.now);
    for (let i = 0; i < 5; i++) {
      expect(call(off, "a").passed).toBe(true);
      expect(call(on, undefined).passed).toBe(true);
    }
  });

  it("forgets every window once it holds more than 100 000 tokens", () => {
    const time = clock();
    const limit = rateLimit(1, time.now);
    call(limit, "first");
    for (let i = 1; i < 100_000; i++) call(limit, `t${i}`);
    // 100 000 windows held: one more token is kept alongside them.
    call(limit, "one-more");
    expect(call(limit, "first").passed).toBe(false);
    // 100 001 held: the next new token starts from an empty map.
    call(limit, "and-another");
    expect(call(limit, "first").passed).toBe(true);
  });
});
