import { once } from "node:events";
import { request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import type { Authentication, Authenticator } from "../auth/authenticator.js";
import { authenticate, type AuthenticateOptions } from "./authenticate.js";

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
