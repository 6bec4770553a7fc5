import { createServer } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createClient, type ClientOptions, type ModboxClient } from "./client.js";
import {
  APIError,
  AuthenticationError,
  ConflictError,
  ConnectionError,
  ModboxError,
  NotFoundError,
  PermissionDeniedError,
  PreconditionFailedError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  UnprocessableEntityError,
} from "./errors.js";
import { hangingFetch, json, problem, registry, scriptedFetch } from "./testing/fake-fetch.js";

const BASE = "http://api.test";
const ID = "0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70";
const SECRET = "ghp_very_secret_token";

function clientWith(fetch: ClientOptions["fetch"], options: Partial<ClientOptions> = {}) {
  return createClient({ baseUrl: BASE, token: "mbx_test", workspaceId: "ws-1", fetch, ...options });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("every call", () => {
  test("sends the bearer token, the workspace, Accept and the client's extra headers", async () => {
    const { fetch, requests } = scriptedFetch(json(registry()));
    const client = clientWith(fetch, { headers: { "X-Trace": "t-1", Authorization: "ignored" } });
    await client.registries.get(ID);
    const headers = requests[0]!.headers;
    expect(headers.get("authorization")).toBe("Bearer mbx_test");
    expect(headers.get("x-workspace-id")).toBe("ws-1");
    expect(headers.get("accept")).toContain("application/json");
    expect(headers.get("x-trace")).toBe("t-1");
  });

  test("per-call headers are added", async () => {
    const { fetch, requests } = scriptedFetch(json(registry()));
    await clientWith(fetch).registries.get(ID, { headers: { "X-Trace": "t-2" } });
    expect(requests[0]!.headers.get("x-trace")).toBe("t-2");
    expect(requests[0]!.headers.get("x-workspace-id")).toBe("ws-1");
  });
});

describe("withWorkspace", () => {
  test("binds another workspace and keeps everything else", async () => {
    const { fetch, requests } = scriptedFetch(json({ data: [], next_cursor: null }));
    const client = clientWith(fetch, { headers: { "X-Trace": "t" } });
    const other = client.withWorkspace("ws-2");
    await other.sandboxImages.list();
    await client.sandboxImages.list();
    expect(other.workspaceId).toBe("ws-2");
    expect(requests.map((r) => r.headers.get("x-workspace-id"))).toEqual(["ws-2", "ws-1"]);
    expect(requests[0]!.headers.get("authorization")).toBe("Bearer mbx_test");
    expect(requests[0]!.headers.get("x-trace")).toBe("t");
  });
});

describe("errors", () => {
  test.each([
    [401, AuthenticationError, "unauthorized"],
    [403, PermissionDeniedError, "workspace_forbidden"],
    [404, NotFoundError, "not_found"],
    [409, ConflictError, "registry_name_taken"],
    [409, ConflictError, "concurrent_modification"],
    [412, PreconditionFailedError, "precondition_failed"],
    [429, RateLimitError, "rate_limited"],
    [503, ServiceUnavailableError, "service_unavailable"],
  ] as const)("status %i throws %o with code, requestId and problem", async (status, ErrorClass, code) => {
    const { fetch } = scriptedFetch(problem(status, { code, request_id: "req-9" }));
    const error = await clientWith(fetch, { maxRetries: 0 })
      .registries.update(ID, { enabled: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toMatchObject({ status, code, requestId: "req-9" });
    expect((error as APIError).problem).toMatchObject({ code, status });
  });

  test("422 exposes the failed rules", async () => {
    const errors = [{ path: "/body/server", message: "must match pattern" }];
    const { fetch } = scriptedFetch(problem(422, { code: "validation_failed", errors }));
    const error = await clientWith(fetch)
      .registries.create({ name: "r", server: "bad host", username: "u", password: SECRET })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableEntityError);
    expect((error as UnprocessableEntityError).errors).toEqual(errors);
  });

  test("no error message or serialisation carries the password", async () => {
    const body = { name: "r", server: "ghcr.io", username: "u", password: SECRET };
    const failures = [
      problem(409, { code: "registry_name_taken", detail: "Name taken." }),
      new Response("oops", { status: 500 }),
      new TypeError("fetch failed"),
    ];
    for (const failure of failures) {
      const { fetch } = scriptedFetch(failure);
      // No retries: create is retried now (it carries an Idempotency-Key), and what is checked
      // here is the error, not the waits before it.
      const error = await clientWith(fetch, { maxRetries: 0 }).registries.create(body).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModboxError);
      const rendered = [String(error), (error as Error).stack, inspect(error, { depth: 5 })];
      for (const text of rendered) expect(text).not.toContain(SECRET);
    }
  });

  test("the token does not show when the client is logged", () => {
    const client = clientWith(scriptedFetch(json({})).fetch);
    expect(inspect(client, { depth: 5 })).not.toContain("mbx_test");
    expect(JSON.stringify(client)).not.toContain("mbx_test");
  });
});

describe("retries through the client", () => {
  test("a 503 then success resolves, honouring Retry-After", async () => {
    vi.useFakeTimers();
    const { fetch } = scriptedFetch(
      problem(503, { code: "service_unavailable" }, { "retry-after": "2" }),
      json(registry()),
    );
    const pending = clientWith(fetch).registries.get(ID);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(pending).resolves.toEqual(registry());
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  test("create is retried after a lost answer, sending the same Idempotency-Key again", async () => {
    vi.useFakeTimers();
    const { fetch, requests } = scriptedFetch(
      new TypeError("fetch failed"),
      problem(503, { code: "service_unavailable" }),
      json(registry(), 201, { "idempotent-replayed": "true" }),
    );
    const body = { name: "r", server: "ghcr.io", username: "u", password: "p" };
    const pending = clientWith(fetch).registries.create(body);
    await vi.runAllTimersAsync();
    await expect(pending).resolves.toEqual(registry());
    const keys = requests.map((r) => r.headers.get("idempotency-key"));
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(keys).size).toBe(1);
    expect(await Promise.all(requests.map((r) => r.json()))).toEqual([body, body, body]);
  });

  test("each call gets its own key; a key passed in is sent as it is", async () => {
    const { fetch, requests } = scriptedFetch(json(registry(), 201));
    const client = clientWith(fetch);
    const body = { name: "r", server: "ghcr.io", username: "u", password: "p" };
    await client.registries.create(body);
    await client.registries.create(body);
    await client.registries.create(body, { idempotencyKey: "mine-1" });
    await client.registries.create(body, { headers: { "idempotency-key": "in-headers" } });
    const keys = requests.map((r) => r.headers.get("idempotency-key"));
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys.slice(2)).toEqual(["mine-1", "in-headers"]);
  });

  test("409 idempotency_in_progress is retried after Retry-After; other 409s and 412 are not", async () => {
    vi.useFakeTimers();
    const { fetch } = scriptedFetch(
      problem(409, { code: "idempotency_in_progress" }, { "retry-after": "3" }),
      json(registry(), 201),
    );
    const body = { name: "r", server: "ghcr.io", username: "u", password: "p" };
    const pending = clientWith(fetch).registries.create(body);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(pending).resolves.toEqual(registry());

    for (const [status, code, ErrorClass] of [
      [409, "registry_name_taken", ConflictError],
      [412, "precondition_failed", PreconditionFailedError],
    ] as const) {
      const once = scriptedFetch(problem(status, { code }), json(registry()));
      const error = await clientWith(once.fetch)
        .registries.update(ID, { enabled: false }, { ifMatch: '"1.a"' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ErrorClass);
      expect(once.fetch).toHaveBeenCalledTimes(1);
    }
  });

  test("idempotency_in_progress past maxRetries throws ConflictError with its code", async () => {
    const { fetch } = scriptedFetch(problem(409, { code: "idempotency_in_progress" }, { "retry-after": "0" }));
    const error = await clientWith(fetch, { maxRetries: 1 })
      .sandboxImages.create({ name: "app", image: "ghcr.io/acme/app" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: "idempotency_in_progress" });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  test.each([
    ["registries.verify", (c: ModboxClient) => c.registries.verify(ID)],
    ["sandboxImages.pullCheck", (c: ModboxClient) => c.sandboxImages.pullCheck(ID)],
    ["provisioning.pullCredentials", (c: ModboxClient) => c.provisioning.pullCredentials(ID)],
  ])("%s is retried after a connection error", async (_name, call) => {
    vi.useFakeTimers();
    const { fetch, requests } = scriptedFetch(new TypeError("fetch failed"), json({}));
    const pending = call(clientWith(fetch));
    await vi.runAllTimersAsync();
    await expect(pending).resolves.toEqual({});
    expect(requests.map((r) => r.method)).toEqual(["POST", "POST"]);
  });

  test("pullCredentials sends no Idempotency-Key (the contract has none for it)", async () => {
    const { fetch, requests } = scriptedFetch(json({}));
    await clientWith(fetch).provisioning.pullCredentials(ID);
    expect(requests[0]!.headers.has("idempotency-key")).toBe(false);
  });

  test("a POST through client.raw is retried only when it carries an Idempotency-Key", async () => {
    vi.useFakeTimers();
    const body = { name: "app", image: "ghcr.io/acme/app" };
    const unkeyed = scriptedFetch(problem(503), json({}, 201));
    const first = clientWith(unkeyed.fetch).raw.POST("/sandbox-images", { body });
    await vi.runAllTimersAsync();
    expect((await first).response.status).toBe(503);
    expect(unkeyed.fetch).toHaveBeenCalledTimes(1);

    const keyed = scriptedFetch(problem(503), json({}, 201));
    const second = clientWith(keyed.fetch).raw.POST("/sandbox-images", {
      params: { header: { "Idempotency-Key": "raw-1" } },
      body,
    });
    await vi.runAllTimersAsync();
    expect((await second).response.status).toBe(201);
    expect(keyed.requests.map((r) => r.headers.get("idempotency-key"))).toEqual(["raw-1", "raw-1"]);
  });

  test("maxRetries: 0 turns retries off for a keyed POST too", async () => {
    const { fetch } = scriptedFetch(problem(503, { code: "service_unavailable" }), json({}));
    const body = { name: "r", server: "ghcr.io", username: "u", password: "p" };
    await expect(clientWith(fetch).registries.create(body, { maxRetries: 0 })).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  test("a network error on GET is retried, then ConnectionError after maxRetries", async () => {
    vi.useFakeTimers();
    const { fetch } = scriptedFetch(new TypeError("fetch failed"));
    const pending = clientWith(fetch, { maxRetries: 2 }).registries.get(ID);
    const outcome = pending.catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await outcome).toBeInstanceOf(ConnectionError);
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  test("a refused connection names the method, host, port and reason (real fetch, closed port)", async () => {
    const port = await closedPort();
    const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, token: "mbx_test", workspaceId: "ws-1", maxRetries: 0 });
    const error = await client.registries.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).message).toBe(
      `Connection error: GET http://127.0.0.1:${port}/registries: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  test("maxRetries can be overridden per call", async () => {
    const { fetch } = scriptedFetch(problem(503));
    await expect(clientWith(fetch).registries.get(ID, { maxRetries: 0 })).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("timeouts", () => {
  test("no answer within timeoutMs → TimeoutError", async () => {
    const client = clientWith(hangingFetch(), { timeoutMs: 20, maxRetries: 0 });
    await expect(client.registries.get(ID)).rejects.toBeInstanceOf(TimeoutError);
  });

  test("timeoutMs can be overridden per call", async () => {
    const client = clientWith(hangingFetch(), { maxRetries: 0 });
    await expect(client.registries.get(ID, { timeoutMs: 20 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
  });

  test("a body that stalls past timeoutMs → TimeoutError", async () => {
    const fetch = async (request: Request) => {
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"id":'));
          request.signal.addEventListener("abort", () => controller.error(request.signal.reason));
        },
      });
      return new Response(body, { headers: { "content-type": "application/json" } });
    };
    const client = clientWith(fetch, { timeoutMs: 20, maxRetries: 0 });
    await expect(client.registries.get(ID)).rejects.toBeInstanceOf(TimeoutError);
  });

  test("the caller's signal aborts the call", async () => {
    const controller = new AbortController();
    const client = clientWith(hangingFetch());
    const pending = client.registries.get(ID, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("createClient", () => {
  test.each([
    [{ baseUrl: "" }, "baseUrl"],
    [{ token: "" }, "token"],
    [{ workspaceId: "" }, "workspaceId"],
    [{ maxRetries: -1 }, "maxRetries"],
    [{ timeoutMs: 0 }, "timeoutMs"],
  ])("rejects %o", (override, name) => {
    expect(() => clientWith(undefined, override)).toThrow(name);
  });
});

/** A port nothing listens on: bound by the system, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
