import { afterEach, describe, expect, test, vi } from "vitest";
import { ConnectionError, TimeoutError } from "./errors.js";
import { hangingFetch, json, problem, scriptedFetch } from "./testing/fake-fetch.js";
import { createTransport, type TransportOptions } from "./transport.js";

const URL_ = "http://api.test/registries";

/** A transport whose waits are recorded instead of slept. */
function transport(options: Partial<TransportOptions> & Pick<TransportOptions, "fetch">) {
  const sleeps: number[] = [];
  const send = createTransport({
    maxRetries: 2,
    timeoutMs: 1_000,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { send, sleeps };
}

const networkError = () => new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") });

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("retries", () => {
  test("a GET answered 503 is retried, then succeeds", async () => {
    const { fetch } = scriptedFetch(problem(503), json({ ok: true }));
    const { send, sleeps } = transport({ fetch });
    const response = await send(new Request(URL_));
    expect(response.status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(sleeps).toEqual([250]); // full jitter: 0.5 × 500 ms
  });

  test("backoff grows between retries, and the last error response is returned", async () => {
    const { fetch } = scriptedFetch(problem(500));
    const { send, sleeps } = transport({ fetch, maxRetries: 3 });
    const response = await send(new Request(URL_));
    expect(response.status).toBe(500);
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(sleeps).toEqual([250, 500, 1000]);
  });

  test("Retry-After (seconds) is honoured", async () => {
    const { fetch } = scriptedFetch(problem(429, {}, { "retry-after": "3" }), json({}));
    const { send, sleeps } = transport({ fetch });
    await send(new Request(URL_));
    expect(sleeps).toEqual([3000]);
  });

  test("Retry-After (HTTP date) is honoured", async () => {
    const at = new Date(Date.now() + 10_000).toUTCString();
    const { fetch } = scriptedFetch(problem(503, {}, { "retry-after": at }), json({}));
    const { send, sleeps } = transport({ fetch });
    await send(new Request(URL_));
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(8_000);
    expect(sleeps[0]).toBeLessThanOrEqual(10_000);
  });

  test.each([400, 401, 404, 409, 422])("status %i is returned at once", async (status) => {
    const { fetch } = scriptedFetch(problem(status));
    const { send } = transport({ fetch });
    expect((await send(new Request(URL_))).status).toBe(status);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  test("maxRetries: 0 disables retries", async () => {
    const { fetch } = scriptedFetch(problem(503));
    const { send } = transport({ fetch, maxRetries: 0 });
    expect((await send(new Request(URL_))).status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  test("a PUT is retried and its body is sent again each time", async () => {
    const { fetch, requests } = scriptedFetch(problem(502), json({}));
    const { send } = transport({ fetch });
    const body = JSON.stringify({ enabled: false });
    await send(new Request(`${URL_}/x`, { method: "PUT", body }));
    expect(await Promise.all(requests.map((r) => r.text()))).toEqual([body, body]);
  });
});

describe("a POST without an Idempotency-Key is never retried", () => {
  test("not on a 503", async () => {
    const { fetch } = scriptedFetch(problem(503), json({}));
    const { send, sleeps } = transport({ fetch });
    const response = await send(new Request(URL_, { method: "POST", body: "{}" }));
    expect(response.status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(sleeps).toEqual([]);
  });

  test("not on a network error", async () => {
    const { fetch } = scriptedFetch(networkError(), json({}));
    const { send } = transport({ fetch });
    await expect(send(new Request(URL_, { method: "POST", body: "{}" }))).rejects.toBeInstanceOf(
      ConnectionError,
    );
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("a POST with an Idempotency-Key is retried, with the same key and body", () => {
  const post = (body = '{"name":"r"}') =>
    new Request(URL_, { method: "POST", body, headers: { "Idempotency-Key": "key-1" } });

  async function sent(requests: Request[]) {
    return Promise.all(
      requests.map(async (r) => ({ key: r.headers.get("idempotency-key"), body: await r.text() })),
    );
  }

  test.each([500, 502, 503, 504, 408])("on a %i", async (status) => {
    const { fetch, requests } = scriptedFetch(problem(status), json({ id: "x" }, 201));
    const { send } = transport({ fetch });
    expect((await send(post())).status).toBe(201);
    expect(await sent(requests)).toEqual([
      { key: "key-1", body: '{"name":"r"}' },
      { key: "key-1", body: '{"name":"r"}' },
    ]);
  });

  test("on a 429, honouring Retry-After", async () => {
    const { fetch } = scriptedFetch(problem(429, { code: "rate_limited" }, { "retry-after": "4" }), json({}, 201));
    const { send, sleeps } = transport({ fetch });
    expect((await send(post())).status).toBe(201);
    expect(sleeps).toEqual([4000]);
  });

  test("on a connection error (the answer may have been lost after the server acted)", async () => {
    const { fetch, requests } = scriptedFetch(networkError(), networkError(), json({}, 201));
    const { send } = transport({ fetch });
    expect((await send(post())).status).toBe(201);
    expect((await sent(requests)).map((r) => r.key)).toEqual(["key-1", "key-1", "key-1"]);
  });

  test("on 409 idempotency_in_progress, honouring Retry-After", async () => {
    const { fetch } = scriptedFetch(
      problem(409, { code: "idempotency_in_progress" }, { "retry-after": "1" }),
      json({ id: "x" }, 201, { "idempotent-replayed": "true" }),
    );
    const { send, sleeps } = transport({ fetch });
    const response = await send(post());
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: "x" });
    expect(sleeps).toEqual([1000]);
  });

  test("until maxRetries, then the last answer is returned", async () => {
    const { fetch } = scriptedFetch(problem(409, { code: "idempotency_in_progress" }, { "retry-after": "0" }));
    const { send } = transport({ fetch, maxRetries: 3 });
    const response = await send(post());
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ code: "idempotency_in_progress" });
    expect(fetch).toHaveBeenCalledTimes(4);
  });

  test.each([
    [409, "registry_name_taken"],
    [409, "concurrent_modification"],
    [412, "precondition_failed"],
    [422, "idempotency_key_reused"],
  ] as const)("not on %i %s, and the body is still whole for the caller", async (status, code) => {
    const { fetch } = scriptedFetch(problem(status, { code, detail: "d" }), json({}, 201));
    const { send, sleeps } = transport({ fetch });
    const response = await send(post());
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ code, detail: "d" });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(sleeps).toEqual([]);
  });

  test("a 409 whose body is not a problem is not retried", async () => {
    const { fetch } = scriptedFetch(new Response("<html>conflict</html>", { status: 409 }), json({}));
    const { send } = transport({ fetch });
    expect((await send(post())).status).toBe(409);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("repeatable: a POST known to be harmless to repeat", () => {
  test("is retried without a key", async () => {
    const { fetch } = scriptedFetch(networkError(), problem(503), json({}));
    const { send } = transport({ fetch, repeatable: true });
    expect((await send(new Request(URL_, { method: "POST" }))).status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(3);
  });
});

describe("a PUT or DELETE is never retried on 412", () => {
  test.each(["PUT", "DELETE"])("%s", async (method) => {
    const { fetch } = scriptedFetch(problem(412, { code: "precondition_failed" }), json({}));
    const { send } = transport({ fetch });
    const request = new Request(`${URL_}/x`, { method, headers: { "If-Match": '"1.a"' } });
    expect((await send(request)).status).toBe(412);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("network errors", () => {
  test("a GET is retried, then fails with ConnectionError after maxRetries", async () => {
    const cause = networkError();
    const { fetch } = scriptedFetch(cause);
    const { send, sleeps } = transport({ fetch, maxRetries: 2 });
    const error = await send(new Request(`${URL_}?cursor=abc`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect((error as ConnectionError).cause).toBe(cause);
    expect((error as ConnectionError).message).toBe(
      "Connection error: GET http://api.test:80/registries: ECONNREFUSED",
    );
    expect(error).toMatchObject({ method: "GET", url: "http://api.test:80/registries" });
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(sleeps).toHaveLength(2);
  });

  test("the message names the innermost reason and its code, never the query", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.9:8443"), { code: "ECONNREFUSED" });
    const untrusted = Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    const cases = [
      [new TypeError("fetch failed", { cause: new AggregateError([refused], "") }), "connect ECONNREFUSED 10.0.0.9:8443"],
      [new TypeError("fetch failed", { cause: untrusted }), "DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate"],
    ] as const;
    for (const [cause, reason] of cases) {
      const { send } = transport({ fetch: scriptedFetch(cause).fetch, maxRetries: 0 });
      const request = new Request("https://api.test/v1/registries?cursor=abc", { method: "POST" });
      const error = (await send(request).catch((e: unknown) => e)) as ConnectionError;
      expect(error.message).toBe(`Connection error: POST https://api.test:443/v1/registries: ${reason}`);
      expect(error.message).not.toContain("cursor");
    }
  });

  test("a GET recovers when the network comes back", async () => {
    const { fetch } = scriptedFetch(networkError(), json({ ok: true }));
    const { send } = transport({ fetch });
    expect((await send(new Request(URL_))).status).toBe(200);
  });
});

describe("timeouts", () => {
  test("an attempt that outlives timeoutMs fails with TimeoutError", async () => {
    const fetch = hangingFetch();
    const { send } = transport({ fetch, timeoutMs: 20, maxRetries: 0 });
    const error = await send(new Request(URL_)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as TimeoutError).message).toBe("Request timed out after 20 ms: GET http://api.test:80/registries.");
  });

  test("the timeout is per attempt: a GET is retried after one", async () => {
    const { fetch } = scriptedFetch(
      (request) => hangingFetch()(request),
      json({ ok: true }),
    );
    const { send } = transport({ fetch, timeoutMs: 20 });
    expect((await send(new Request(URL_))).status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe("the caller's signal", () => {
  test("aborting is not retried and not renamed", async () => {
    const controller = new AbortController();
    const fetch = vi.fn((request: Request) => {
      controller.abort();
      return hangingFetch()(request);
    });
    const { send } = transport({ fetch });
    const error = await send(new Request(URL_, { signal: controller.signal })).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: "AbortError" });
    expect(error).not.toBeInstanceOf(ConnectionError);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  test("aborting during the wait between retries stops at once", async () => {
    const controller = new AbortController();
    const { fetch } = scriptedFetch(problem(503, {}, { "retry-after": "60" }));
    const send = createTransport({ fetch, maxRetries: 2, timeoutMs: 1_000 });
    const pending = send(new Request(URL_, { signal: controller.signal }));
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(1));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

test("globalThis.fetch is looked up per call, not when the transport is built", async () => {
  const send = createTransport({ maxRetries: 0, timeoutMs: 1_000 });
  const { fetch } = scriptedFetch(json({ late: true }));
  vi.stubGlobal("fetch", fetch);
  expect(await (await send(new Request(URL_))).json()).toEqual({ late: true });
});
