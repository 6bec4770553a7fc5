/** followRedirects driven by an injected `send`: how many hops, and what each hop carries. */
import { describe, expect, it } from "vitest";
import { OutboundError } from "./errors.js";
import type { OutboundRequest, Send } from "./http.js";
import { followRedirects } from "./redirects.js";

function redirecting(location: (hop: number) => string | undefined): { send: Send; requests: OutboundRequest[] } {
  const requests: OutboundRequest[] = [];
  const send: Send = async (request) => {
    const target = location(requests.length);
    requests.push(request);
    return {
      url: String(request.url),
      status: target === undefined ? 200 : 302,
      headers: target === undefined ? {} : ({ location: [target] } as Record<string, string[]>),
      body: Buffer.alloc(0),
    };
  };
  return { send, requests };
}

const BASE: OutboundRequest = { url: "https://registry.test/start", method: "GET", timeoutMs: 1000, maxResponseBytes: 1024, allowPrivate: false };

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

describe("followRedirects", () => {
  it("follows exactly 3 redirects, then gives up naming the limit", async () => {
    const three = redirecting((hop) => (hop < 3 ? `/hop${hop + 1}` : undefined));
    expect((await followRedirects(BASE, { send: three.send })).url).toBe("https://registry.test/hop3");
    expect(three.requests).toHaveLength(4);

    const loop = redirecting(() => "/again");
    const err = await failure(followRedirects(BASE, { send: loop.send }));
    expect([err.code, err.detail]).toEqual(["too_many_redirects", "more than 3 redirects"]);
    expect(loop.requests).toHaveLength(4);
  });

  it("drops Authorization in any case on another host, and keeps the other headers", async () => {
    const { send, requests } = redirecting((hop) => (hop === 0 ? "https://other.test/next" : undefined));
    await followRedirects({ ...BASE, headers: { Authorization: "Bearer tok", accept: "application/json" } }, { send });
    expect(requests.map((r) => r.headers)).toEqual([{ Authorization: "Bearer tok", accept: "application/json" }, { accept: "application/json" }]);
  });

  it("sends no headers on the next hop when the request had none", async () => {
    const { send, requests } = redirecting((hop) => (hop === 0 ? "https://other.test/next" : undefined));
    await followRedirects(BASE, { send });
    expect(requests.map((r) => [String(r.url), r.headers])).toEqual([
      ["https://registry.test/start", undefined],
      ["https://other.test/next", undefined],
    ]);
  });

  it("invalid_target for a Location that is not a URL, keeping the parse error as cause", async () => {
    const { send, requests } = redirecting(() => "https://[bad");
    const err = await failure(followRedirects(BASE, { send }));
    expect([err.code, err.detail]).toEqual(["invalid_target", "a redirect pointed to an invalid URL"]);
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(requests).toHaveLength(1);
  });
});
