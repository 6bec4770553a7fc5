import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { AuthenticationError, PermissionDeniedError, RateLimitError } from "@modbox/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiToken } from "../../src/auth/api-token.js";
import { createApiTokenRepository } from "../../src/db/repositories/api-tokens.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";

/** A GET with exactly these header lines, over a socket; the answer's status and body. */
async function rawGet(baseUrl: string, path: string, headers: [string, string][]): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  const lines = [`GET ${path} HTTP/1.1`, `host: ${hostname}:${port}`, "connection: close", ...headers.map(([name, value]) => `${name}: ${value}`)];
  const answer = await new Promise<string>((resolve, reject) => {
    let text = "";
    connect(Number(port), hostname)
      .setEncoding("utf8")
      .on("connect", function (this: import("node:net").Socket) {
        this.write(`${lines.join("\r\n")}\r\n\r\n`);
      })
      .on("data", (chunk: string) => (text += chunk))
      .on("end", () => resolve(text))
      .on("error", reject);
  });
  const [head, ...rest] = answer.split("\r\n\r\n");
  return { status: Number(head!.split(" ")[1]), body: rest.join("\r\n\r\n") };
}

describe.each(backends)("authentication, workspaces and health on %s", (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, { rateLimitPerMinute: 50 });
  });
  afterAll(() => app?.close());

  it("401 with WWW-Authenticate for a missing, unknown or malformed token", async () => {
    for (const authorization of [undefined, "Bearer", `Bearer ${generateApiToken()}`, "Bearer mbx_short", "Basic dTpw"]) {
      const response = await fetch(`${app.url}/registries`, {
        headers: { "x-workspace-id": "w", ...(authorization && { authorization }) },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="modbox"');
      expect(await response.json()).toMatchObject({ status: 401, code: "unauthorized" });
    }
  });

  it("400 malformed_request for two Authorization headers, even when the first is valid", async () => {
    const other = await app.createToken({ workspaceIds: null });
    for (const values of [[`Bearer ${app.token}`, `Bearer ${other}`], [`Bearer ${app.token}`, `Bearer ${app.token}`]]) {
      // fetch would fold the two into one line: write the request on a socket, one line each.
      const { status, body } = await rawGet(app.url, "/registries", [["x-workspace-id", "w"], ...values.map((value) => ["authorization", value] as [string, string])]);
      expect(status).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ status: 400, code: "malformed_request" });
    }
    // One header still works.
    expect((await fetch(`${app.url}/registries`, { headers: { "x-workspace-id": "w", authorization: `Bearer ${app.token}` } })).status).toBe(200);
  });

  it("a token granted some workspaces works there and gets 403 workspace_forbidden elsewhere", async () => {
    const token = await app.createToken({ workspaceIds: ["team-a", "team-b"] });
    await expect(app.client("team-a", token).registries.list()).resolves.toBeDefined();
    await expect(app.client("team-b", token).registries.list()).resolves.toBeDefined();
    const err = await app.client("team-c", token).registries.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as PermissionDeniedError).code).toBe("workspace_forbidden");
  });

  it("a provisioner token cannot use workspace routes: 403 insufficient_scope", async () => {
    const token = await app.createToken({ workspaceIds: null, scope: "provisioner" });
    await expect(app.client("team-a", token).registries.list()).rejects.toMatchObject({ status: 403, code: "insufficient_scope" });
  });

  it("a revoked token stops working (after the authenticator's short cache)", async () => {
    const token = await app.createToken({ workspaceIds: null });
    const tokens = createApiTokenRepository(app.database.db);
    const [record] = (await tokens.list()).filter((t) => t.revokedAt === null && t.name === "test");
    await tokens.revoke(record!.id, new Date());
    // A fresh app has never cached this token, so revocation is visible at once.
    const fresh = await startTestApp(backend);
    try {
      await expect(fresh.client("w", token).registries.list()).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      await fresh.close();
    }
  });

  it("429 with Retry-After once a token passes its per-minute limit", async () => {
    const token = await app.createToken({ workspaceIds: null });
    const client = app.client(`ws-${randomUUID()}`, token);
    let limited: unknown;
    for (let i = 0; i < 60 && !limited; i++) limited = await client.registries.list().then(() => undefined, (e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(Number((limited as RateLimitError).headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("/healthz and /readyz answer without a token", async () => {
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });
});
