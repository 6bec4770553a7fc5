import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express, { type Request, type RequestHandler, type Response } from "express";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Claim, IdempotencyScope, IdempotencyService, NewClaim, StoredAnswer } from "../services/idempotency.js";
import { fingerprintInput, idempotent, type FusedWrite } from "./idempotency.js";

const PREPARED: NewClaim = {
  fingerprint: "fp",
  leaseUntil: new Date("2026-01-01T00:01:00Z"),
  createdAt: new Date("2026-01-01T00:00:00Z"),
  expiresAt: new Date("2026-01-02T00:00:00Z"),
};

interface Recorded {
  newClaims: string[];
  claims: Array<{ scope: IdempotencyScope; request: string; prepared?: NewClaim }>;
  answers: StoredAnswer[];
  releases: number;
  ran: number;
  logs: Array<Record<string, unknown>>;
}

/** A service that answers `claim` with `kind` ("run" records what the middleware stores or releases). */
function fakeService(kind: Claim["kind"], recorded: Recorded, options: { fail?: boolean; stored?: StoredAnswer; retryAfterSeconds?: number } = {}): IdempotencyService {
  const settle = async () => {
    // A driver error as drizzle wraps it: its message lists the bound values.
    if (options.fail) throw Object.assign(new Error("Failed query: insert … params: canary-value"), { query: "insert …", params: ["canary-value"] });
  };
  return {
    newClaim(request: string) {
      recorded.newClaims.push(request);
      return PREPARED;
    },
    async claim(scope: IdempotencyScope, request: string, prepared?: NewClaim): Promise<Claim> {
      recorded.claims.push({ scope, request, prepared });
      switch (kind) {
        case "run":
          return {
            kind,
            answer: async (answer) => {
              recorded.answers.push(answer);
              await settle();
            },
            release: async () => {
              recorded.releases++;
              await settle();
            },
          };
        case "replay":
          return { kind, answer: options.stored! };
        case "reused":
          return { kind };
        case "in_progress":
          return { kind, retryAfterSeconds: options.retryAfterSeconds ?? 1 };
      }
    },
  } as IdempotencyService;
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

const recorder = (): Recorded => ({ newClaims: [], claims: [], answers: [], releases: 0, ran: 0, logs: [] });

/** An authenticated, workspace-scoped POST /things?x=1 behind the middleware; `route` answers it. */
async function serve(service: IdempotencyService, recorded: Recorded, route: RequestHandler, fused?: FusedWrite) {
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      recorded.logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = express();
  app.use(express.json());
  app.use((req, res, next) => {
    req.principal = { tokenId: "token-1" } as NonNullable<typeof req.principal>;
    req.workspaceId = "workspace-1";
    res.setHeader("X-Request-Id", "req-1");
    next();
  });
  app.post("/things", idempotent(service, pino({ level: "info" }, sink), fused), (req, res, next) => {
    recorded.ran++;
    route(req, res, next);
  });
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  close = () => new Promise((resolve) => server.close(() => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/things?x=1`;
  return (headers: Record<string, string> = { "idempotency-key": "key-1" }) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: '{"b":2,"a":1}' });
}

const created: RequestHandler = (_req, res) => {
  res.setHeader("ETag", '"1.abc"');
  res.setHeader("Location", "/things/1");
  res.setHeader("X-Not-Replayed", "no");
  res.status(201).json({ id: 1 });
};

describe("idempotent: a request without Idempotency-Key", () => {
  it("runs as any other, claiming nothing", async () => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded), recorded, created);
    const response = await post({});
    expect(response.status).toBe(201);
    expect(recorded).toMatchObject({ newClaims: [], claims: [], answers: [], releases: 0, ran: 1 });
  });
});

describe("idempotent: the first request with a key", () => {
  it("claims the key for this token, workspace and request, runs, and stores the answer's status, replayed headers and body", async () => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded), recorded, created);
    const response = await post();
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('{"id":1}');
    expect(response.headers.get("idempotent-replayed")).toBeNull();
    const request = 'POST /things?x=1\n{"a":1,"b":2}';
    expect(recorded.newClaims).toEqual([request]);
    expect(recorded.claims).toEqual([{ scope: { tokenId: "token-1", workspaceId: "workspace-1", key: "key-1" }, request, prepared: PREPARED }]);
    expect(recorded.answers).toEqual([
      { status: 201, headers: { "content-type": "application/json; charset=utf-8", etag: '"1.abc"', location: "/things/1" }, body: '{"id":1}' },
    ]);
    expect(recorded.releases).toBe(0);
  });

  it.each<[string, RequestHandler, string]>([
    ["a string", (_req, res) => void res.status(200).send("plain words"), "plain words"],
    ["bytes", (_req, res) => void res.status(200).send(Buffer.from("some bytes")), "some bytes"],
    ["an object", (_req, res) => void res.status(299).send({ a: [1] }), '{"a":[1]}'],
    ["no body", (_req, res) => void res.status(200).send(), ""],
    ["null", (_req, res) => void res.status(200).send(null), ""],
  ])("stores %s sent with a 2xx as its text", async (_label, route, body) => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded), recorded, route);
    const response = await post();
    expect(await response.text()).toBe(body);
    expect(recorded.answers.map((a) => a.body)).toEqual([body]);
    expect(recorded.answers[0]!.headers).not.toHaveProperty("etag");
    expect(recorded.answers[0]!.headers).not.toHaveProperty("location");
    expect(recorded.releases).toBe(0);
  });

  it.each([300, 404, 422, 500])("releases the key of a refused request (%i): its retry runs again", async (status) => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded), recorded, (_req, res) => void res.status(status).send("no"));
    const response = await post();
    expect(response.status).toBe(status);
    expect(await response.text()).toBe("no");
    expect(recorded.answers).toEqual([]);
    expect(recorded.releases).toBe(1);
  });

  it("releases the key of an informational (1xx) answer: only a 2xx is a success to keep", async () => {
    const recorded = recorder();
    const req = { header: (name: string) => (name === "idempotency-key" ? "key-1" : undefined), principal: { tokenId: "token-1" }, workspaceId: "workspace-1", method: "POST", originalUrl: "/things", body: {} };
    const sent: unknown[] = [];
    const res = { statusCode: 199, send: (body: unknown) => void sent.push(body), getHeaders: () => ({}), getHeader: () => undefined };
    let nexts = 0;
    await idempotent(fakeService("run", recorded), pino({ level: "silent" }))(req as unknown as Request, res as unknown as Response, () => void nexts++);
    expect(nexts).toBe(1);
    (res as unknown as Response).send("early");
    await new Promise((r) => setImmediate(r));
    expect(recorded.answers).toEqual([]);
    expect(recorded.releases).toBe(1);
    expect(sent).toEqual(["early"]);
  });

  it("still answers when the answer cannot be stored, and warns without the driver error's words", async () => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded, { fail: true }), recorded, created);
    const response = await post();
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('{"id":1}');
    expect(recorded.logs).toEqual([
      expect.objectContaining({
        level: 40,
        msg: "could not store the answer of an idempotent request",
        requestId: "req-1",
        err: expect.objectContaining({ name: "DrizzleQueryError" }),
      }),
    ]);
    expect(JSON.stringify(recorded.logs)).not.toContain("canary-value");
  });

  it("still answers a refused request when the key cannot be released", async () => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded, { fail: true }), recorded, (_req, res) => void res.status(409).send("conflict"));
    const response = await post();
    expect(response.status).toBe(409);
    expect(await response.text()).toBe("conflict");
    expect(recorded.logs).toHaveLength(1);
  });
});

describe("idempotent: a retry", () => {
  it("gets the stored answer again, marked replayed, without running", async () => {
    const recorded = recorder();
    const stored = { status: 201, headers: { "content-type": "application/json; charset=utf-8", etag: '"1.abc"', location: "/things/1" }, body: '{"id":1}' };
    const post = await serve(fakeService("replay", recorded, { stored }), recorded, created);
    const response = await post();
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('{"id":1}');
    expect(response.headers.get("idempotent-replayed")).toBe("true");
    expect(response.headers.get("etag")).toBe('"1.abc"');
    expect(response.headers.get("location")).toBe("/things/1");
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("x-not-replayed")).toBeNull();
    expect(recorded.ran).toBe(0);
  });

  it("with the key of another request is a 422 naming the header", async () => {
    const recorded = recorder();
    const post = await serve(fakeService("reused", recorded), recorded, created);
    const response = await post();
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      code: "idempotency_key_reused",
      detail: "This Idempotency-Key was already used for a different request (method, path, query or body); use a new key for a new request.",
      errors: [{ path: "/header/idempotency-key", message: "was used for a different request" }],
    });
    expect(recorded.ran).toBe(0);
  });

  it("while the first still runs is a 409 with Retry-After", async () => {
    const recorded = recorder();
    const post = await serve(fakeService("in_progress", recorded, { retryAfterSeconds: 7 }), recorded, created);
    const response = await post();
    expect(response.status).toBe(409);
    expect(response.headers.get("retry-after")).toBe("7");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      code: "idempotency_in_progress",
      detail: "A request with this Idempotency-Key is still running; retry after Retry-After seconds to get its answer.",
    });
    expect(body).not.toHaveProperty("errors");
    expect(recorded.ran).toBe(0);
  });
});

describe("idempotent: a route that claims the key in its own write", () => {
  it("sends the answer its write stored, without claiming again or running the route", async () => {
    const recorded = recorder();
    const calls: Array<{ scope: IdempotencyScope; claim: NewClaim; body: unknown }> = [];
    const fused: FusedWrite = async (req, scope, claim) => {
      calls.push({ scope, claim, body: req.body });
      return { status: 201, headers: { location: "/things/9", "content-type": "text/plain" }, body: "made" };
    };
    const post = await serve(fakeService("run", recorded), recorded, created, fused);
    const response = await post();
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("made");
    expect(response.headers.get("location")).toBe("/things/9");
    expect(response.headers.get("idempotent-replayed")).toBeNull();
    expect(calls).toEqual([{ scope: { tokenId: "token-1", workspaceId: "workspace-1", key: "key-1" }, claim: PREPARED, body: { b: 2, a: 1 } }]);
    expect(recorded.claims).toEqual([]);
    expect(recorded.ran).toBe(0);
  });

  it.each(["key_exists", "not_applicable"] as const)("%s: takes the general path (claim, then run)", async (outcome) => {
    const recorded = recorder();
    const post = await serve(fakeService("run", recorded), recorded, created, async () => outcome);
    const response = await post();
    expect(response.status).toBe(201);
    expect(recorded.claims).toHaveLength(1);
    expect(recorded.ran).toBe(1);
    expect(recorded.answers).toHaveLength(1);
  });
});

describe("fingerprintInput", () => {
  it("is the method, the path with its query, and the body with object keys in order", () => {
    expect(fingerprintInput("POST", "/r?x=1", { b: 1, a: [{ d: 2, c: null }, "s", true] })).toBe('POST /r?x=1\n{"a":[{"c":null,"d":2},"s",true],"b":1}');
  });

  it("does not depend on how the client ordered the keys", () => {
    expect(fingerprintInput("PUT", "/r", { a: { y: 1, x: 2 }, b: 3 })).toBe(fingerprintInput("PUT", "/r", { b: 3, a: { x: 2, y: 1 } }));
  });

  it("tells apart bodies that differ only in nesting or type", () => {
    expect(fingerprintInput("POST", "/r", { a: "1" })).not.toBe(fingerprintInput("POST", "/r", { a: 1 }));
    expect(fingerprintInput("POST", "/r", [1, 2])).toBe("POST /r\n[1,2]");
    expect(fingerprintInput("POST", "/r", [])).toBe("POST /r\n[]");
    expect(fingerprintInput("POST", "/r", {})).toBe("POST /r\n{}");
  });

  it("a missing body, or a member without a value, is null", () => {
    expect(fingerprintInput("POST", "/r", undefined)).toBe("POST /r\nnull");
    expect(fingerprintInput("POST", "/r", null)).toBe("POST /r\nnull");
    expect(fingerprintInput("POST", "/r", { a: undefined })).toBe('POST /r\n{"a":null}');
  });
});
