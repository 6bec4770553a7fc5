import { EventEmitter, once } from "node:events";
import { request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Authentication, Authenticator } from "../auth/authenticator.js";
import { authenticate, requireScope, requireWorkspace, type AuthenticateOptions } from "./authenticate.js";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** The middleware in front of a route that answers 200, with an authenticator that answers `result`. */
async function appAnswering(result: Authentication, options: AuthenticateOptions = {}): Promise<string> {
  const authenticator: Authenticator = { authenticate: async () => result, forgetToken: () => {}, forgetAll: () => {} };
  const app = express();
  app.use(authenticate(authenticator, options));
  app.get("/x", (_req, res) => res.json({ ok: true }));
  server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  ms: number;
}

function get(base: string, signal?: AbortSignal): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${base}/x`, { agent: false, headers: { authorization: "Bearer mbx_x" }, signal }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started }));
    });
    req.on("error", reject);
    req.end();
  });
}

const throttled: Authentication = { kind: "throttled", retryAfterSeconds: 42, holdMs: 300 };

describe("authenticate()", () => {
  it("lets an authenticated request through and answers 401 to a refused one", async () => {
    const ok = await appAnswering({ kind: "authenticated", principal: { tokenId: "t", scope: "workspace", workspaceIds: null } });
    expect((await get(ok)).status).toBe(200);
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const refused = await get(await appAnswering({ kind: "refused" }));
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe('Bearer realm="modbox"');
  });

  it("holds a throttled answer, then sends 429 problem+json with Retry-After", async () => {
    const answer = await get(await appAnswering(throttled));
    expect(answer.status).toBe(429);
    expect(answer.ms).toBeGreaterThanOrEqual(290);
    expect(answer.headers["retry-after"]).toBe("42");
    expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 429, code: "rate_limited" });
  });

  it("sends at once, closing the connection, past the bound of held answers", async () => {
    const base = await appAnswering(throttled, { maxHeldRefusals: 1 });
    const first = get(base);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await get(base);
    expect(second.status).toBe(429);
    expect(second.ms).toBeLessThan(250);
    expect(second.headers.connection).toBe("close");
    expect((await first).ms).toBeGreaterThanOrEqual(290);
  });

  it("frees the place of a client that gave up", async () => {
    const base = await appAnswering(throttled, { maxHeldRefusals: 1 });
    const abort = new AbortController();
    const gaveUp = get(base, abort.signal).catch(() => "aborted");
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    expect(await gaveUp).toBe("aborted");
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Held again (not sent at once): the aborted one no longer counts.
    expect((await get(base)).ms).toBeGreaterThanOrEqual(290);
  });

  it("sends at once when the hold is 0", async () => {
    const answer = await get(await appAnswering({ ...throttled, holdMs: 0 }));
    expect(answer.status).toBe(429);
    expect(answer.ms).toBeLessThan(250);
  });
});

/** A response double: what was sent, and the events a real one emits. */
class Sent extends EventEmitter {
  headers: Record<string, string> = {};
  statusCode = 0;
  bodies: Array<Record<string, unknown>> = [];
  headersSent = false;
  destroyed = false;
  setHeader(name: string, value: string) {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
  getHeader(name: string) {
    return this.headers[name.toLowerCase()];
  }
  status(code: number) {
    this.statusCode = code;
    return this;
  }
  type() {
    return this;
  }
  send(text: string) {
    this.bodies.push(JSON.parse(text) as Record<string, unknown>);
    this.headersSent = true;
    return this;
  }
}

/** The middleware over an authenticator that answers `result` and records what it was asked. */
function middleware(result: Authentication, options: AuthenticateOptions = {}) {
  const asked: Array<[string | undefined, string | undefined]> = [];
  const authenticator: Authenticator = {
    authenticate: async (token, ip) => {
      asked.push([token, ip]);
      return result;
    },
    forgetToken: () => {},
    forgetAll: () => {},
  };
  const handler = authenticate(authenticator, options);
  const call = async (rawHeaders: string[] = ["Authorization", "Bearer mbx_x"]) => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
    const req = { rawHeaders, headers, ip: "192.0.2.1", originalUrl: "/registries" } as unknown as Request;
    const res = new Sent();
    let passed = false;
    await handler(req, res as unknown as Response, () => {
      passed = true;
    });
    return { req, res, passed: () => passed };
  };
  return { call, asked };
}

const PRINCIPAL = { tokenId: "t", scope: "workspace", workspaceIds: null } as const;
const authenticated: Authentication = { kind: "authenticated", principal: PRINCIPAL };

describe("authenticate(): the Authorization header", () => {
  it.each([
    ["two lines", ["Authorization", "Bearer mbx_a", "authorization", "Bearer mbx_b"]],
    ["two lines in other cases", ["AUTHORIZATION", "Bearer mbx_a", "x-other", "1", "AuThOrIzAtIoN", "Bearer mbx_b"]],
  ])("%s is a 400, before any token is looked at", async (_label, rawHeaders) => {
    const { call, asked } = middleware(authenticated);
    const { res, passed } = await call(rawHeaders);
    expect(passed()).toBe(false);
    expect(res.statusCode).toBe(400);
    expect(res.bodies).toEqual([expect.objectContaining({ code: "malformed_request", detail: "Send one Authorization header, not several." })]);
    expect(asked).toEqual([]);
  });

  it("one line among others of the same length or a similar name is fine", async () => {
    const { call } = middleware(authenticated);
    const { req, passed } = await call(["Authorization", "Bearer mbx_a", "x-abcdefghijk", "1", "x-abcdefghijk", "2", "Proxy-Authorization", "Basic eA=="]);
    expect(passed()).toBe(true);
    expect(req.principal).toEqual(PRINCIPAL);
  });

  it.each<[string, string[], string | undefined]>([
    ["a bearer token", ["Authorization", "Bearer mbx_abc"], "mbx_abc"],
    ["any case and spaces around", ["authorization", "bearer   mbx_abc  "], "mbx_abc"],
    ["another scheme", ["Authorization", "Basic mbx_abc"], undefined],
    ["a token with a space in it", ["Authorization", "Bearer mbx_a bc"], undefined],
    ["no header", [], undefined],
  ])("%s: the authenticator is asked for %s from the peer address", async (_label, rawHeaders, token) => {
    const { call, asked } = middleware({ kind: "refused" });
    const { res } = await call(rawHeaders);
    expect(asked).toEqual([[token, "192.0.2.1"]]);
    expect(res.statusCode).toBe(401);
    expect(res.bodies).toEqual([expect.objectContaining({ code: "unauthorized", detail: "A valid bearer token is required." })]);
  });
});

describe("authenticate(): a throttled address", () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const THROTTLED_DETAIL = "Too many failed authentications from this address; only tokens already in use here are accepted for now.";

  it.each([0, -5])("a hold of %i ms answers at once, keeping the connection, even with no room to hold", async (holdMs) => {
    const { call } = middleware({ kind: "throttled", retryAfterSeconds: 9, holdMs }, { maxHeldRefusals: 0 });
    const { res, passed } = await call();
    expect(passed()).toBe(false);
    expect(res.statusCode).toBe(429);
    expect(res.headers["retry-after"]).toBe("9");
    expect(res.headers).not.toHaveProperty("connection");
    expect(res.bodies).toEqual([expect.objectContaining({ code: "rate_limited", detail: THROTTLED_DETAIL })]);
  });

  it("holds the answer for the hold, then sends it once", async () => {
    vi.useFakeTimers();
    const { call } = middleware({ kind: "throttled", retryAfterSeconds: 9, holdMs: 100 });
    const { res } = await call();
    vi.advanceTimersByTime(99);
    expect(res.bodies).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(res.bodies).toEqual([expect.objectContaining({ code: "rate_limited", detail: THROTTLED_DETAIL })]);
    res.emit("close");
    vi.advanceTimersByTime(1_000);
    expect(res.bodies).toHaveLength(1);
  });

  it("an answer sent and then closed frees its place once only", async () => {
    vi.useFakeTimers();
    const { call } = middleware({ kind: "throttled", retryAfterSeconds: 9, holdMs: 100 }, { maxHeldRefusals: 1 });
    const first = await call();
    vi.advanceTimersByTime(100);
    first.res.emit("close");
    const second = await call();
    const third = await call();
    expect(second.res.bodies).toEqual([]);
    expect(third.res.bodies).toHaveLength(1);
    expect(third.res.headers.connection).toBe("close");
  });

  it("a client that gave up gets nothing, and its place is free at once", async () => {
    vi.useFakeTimers();
    const { call } = middleware({ kind: "throttled", retryAfterSeconds: 9, holdMs: 100 }, { maxHeldRefusals: 1 });
    const first = await call();
    first.res.destroyed = true;
    first.res.emit("close");
    const second = await call();
    expect(second.res.bodies).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(first.res.bodies).toEqual([]);
    expect(second.res.bodies).toHaveLength(1);
    expect(second.res.headers).not.toHaveProperty("connection");
  });

  it("an answer already started is not sent again when the hold ends", async () => {
    vi.useFakeTimers();
    const { call } = middleware({ kind: "throttled", retryAfterSeconds: 9, holdMs: 100 });
    const { res } = await call();
    res.headersSent = true;
    vi.advanceTimersByTime(100);
    expect(res.bodies).toEqual([]);
  });
});

describe("requireWorkspace and requireScope", () => {
  type Principal = NonNullable<Request["principal"]>;
  const principal = (scope: Principal["scope"], workspaceIds: string[] | null = null): Principal => ({
    tokenId: "t",
    scope,
    workspaceIds: workspaceIds && new Set(workspaceIds),
  });
  /** What the middleware did: passed on (with what), or answered. */
  function run(handler: ReturnType<typeof requireScope>, who: Principal | undefined, workspaceId?: string) {
    const req = { principal: who, originalUrl: "/registries", header: (name: string) => (name === "x-workspace-id" ? workspaceId : undefined) } as unknown as Request;
    const res = new Sent();
    const passed: unknown[][] = [];
    handler(req, res as unknown as Response, (...args: unknown[]) => void passed.push(args));
    return { req, res, passed };
  }

  it("a workspace token granted the workspace acts in it", () => {
    const { req, passed } = run(requireWorkspace("workspace"), principal("workspace", ["ws-1"]), "ws-1");
    expect(passed).toEqual([[]]);
    expect(req.workspaceId).toBe("ws-1");
  });

  it("a token not granted the workspace is refused with the 403 to say so", () => {
    const { req, passed } = run(requireWorkspace("workspace"), principal("workspace", ["ws-2"]), "ws-1");
    expect(passed).toEqual([[expect.objectContaining({ code: "workspace_forbidden" })]]);
    expect(req.workspaceId).toBeUndefined();
  });

  it("a token of another scope is refused for its scope", () => {
    const { passed } = run(requireWorkspace("provisioner"), principal("workspace"), "ws-1");
    expect(passed).toEqual([[expect.objectContaining({ code: "insufficient_scope" })]]);
  });

  it.each<[string, Principal | undefined, string | undefined]>([
    ["no principal", undefined, "ws-1"],
    ["no workspace", principal("workspace"), undefined],
    ["an empty workspace", principal("workspace"), ""],
  ])("%s: 401", (_label, who, workspaceId) => {
    const { res, passed } = run(requireWorkspace("workspace"), who, workspaceId);
    expect(passed).toEqual([]);
    expect(res.statusCode).toBe(401);
    expect(res.bodies).toEqual([expect.objectContaining({ code: "unauthorized", detail: "A valid bearer token is required." })]);
  });

  it("requireScope lets a token of the scope through, whatever workspace it names", () => {
    const { req, passed } = run(requireScope("admin"), principal("admin", ["ws-2"]), "ws-1");
    expect(passed).toEqual([[]]);
    expect(req.workspaceId).toBeUndefined();
  });

  it("requireScope refuses another scope with a 403, and no principal with a 401", () => {
    expect(run(requireScope("admin"), principal("workspace")).passed).toEqual([[expect.objectContaining({ code: "insufficient_scope" })]]);
    const { res, passed } = run(requireScope("admin"), undefined);
    expect(passed).toEqual([]);
    expect(res.statusCode).toBe(401);
    expect(res.bodies).toEqual([expect.objectContaining({ code: "unauthorized", detail: "A valid bearer token is required." })]);
  });
});

