import { randomUUID } from "node:crypto";
import type { Registry, SandboxImage } from "@modbox/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { contractOperations, contractPathsWith } from "@modbox/testkit/contract";
import { backends } from "@modbox/testkit/databases";
import { expectProblem, header, send, type RawRequest, type RawResponse } from "@modbox/testkit/http";
import { freshWorkspaceId } from "@modbox/testkit/ids";

/** Read at collection time: a GET route added to the contract is covered here without a word. */
const GET_PATHS = contractPathsWith("get");
/** What each GET answers, as the contract says (JSON for the API, YAML and HTML for the published contract and page). */
const GET_MEDIA_TYPES = new Map(contractOperations().filter((op) => op.method === "GET").map((op) => [op.path, op.okMediaTypes]));

/**
 * Headers that differ between any two answers whatever their method, and the hop-by-hop ones
 * (RFC 9110 §7.6.1): the client's fetch sends HEAD on a connection it closes after.
 */
const PER_ANSWER = new Set(["date", "x-request-id", "connection", "keep-alive"]);

const allowed = (res: RawResponse) => (header(res, "allow") ?? "").split(",").map((m) => m.trim()).sort();

function comparableHeaders(res: RawResponse): Array<[string, string]> {
  return res.headers.filter(([name]) => !PER_ANSWER.has(name));
}

/** RFC 9110 §9.3.2: HEAD answers what GET would, headers included, with no body. */
describe.each(backends)("HEAD on every GET route on %s", (backend) => {
  let app: TestApp;
  const W = freshWorkspaceId("head");
  let registry: Registry;
  let image: SandboxImage;
  let tokenId: string;

  beforeAll(async () => {
    app = await startTestApp(backend);
    const client = app.client(W);
    registry = await client.registries.create({ name: "Head registry", server: "ghcr.io", username: "robot", password: "head-secret" });
    image = await client.sandboxImages.create({ name: "Head image", image: "ghcr.io/acme/app", registry_id: registry.id });
    // The bootstrap token is an admin token: it may make one, and read the tokens.
    const made = await send(app.url, { method: "POST", path: "/tokens", token: app.token, json: { name: "Head token", scope: "workspace", workspaces: [W] } });
    tokenId = (made.json as { id: string }).id;
  });
  afterAll(() => app?.close());

  const request = (method: string, path: string, extra: Partial<RawRequest> = {}) =>
    send(app.url, { method, path, workspace: W, token: app.token, ...extra });

  /** A contract path with this suite's objects for its ids. */
  function concrete(path: string): string {
    const filled = path.replace("{registry_id}", registry.id).replace("{image_id}", image.id).replace("{token_id}", tokenId);
    expect(filled, `a path parameter this suite does not fill: ${path}`).not.toContain("{");
    return filled;
  }

  it("the contract has GET routes to check", () => {
    expect(GET_PATHS).toEqual(expect.arrayContaining(["/registries", "/registries/{registry_id}", "/sandbox-images", "/sandbox-images/{image_id}", "/healthz", "/readyz"]));
  });

  it.each(GET_PATHS)("HEAD %s: the GET's status and headers, no body", async (path) => {
    const target = concrete(path);
    // Identity: fetch would undo a gzip answer (the published contract is one), and the length
    // below is that of the body as sent.
    const get = await request("GET", target, { headers: { "x-request-id": "head-test-get", "accept-encoding": "identity" } });
    const head = await request("HEAD", target, { headers: { "x-request-id": "head-test-head", "accept-encoding": "identity" } });
    expect(get.status, get.text.slice(0, 300)).toBe(200);
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
    expect(comparableHeaders(head)).toEqual(comparableHeaders(get));
    expect(header(head, "content-length")).toBe(String(Buffer.byteLength(get.text)));
    expect(GET_MEDIA_TYPES.get(path)).toContain(header(head, "content-type")!.split(";")[0]);
    expect(header(head, "x-request-id")).toBe("head-test-head");
  });

  it("a list's query is validated and applied as for GET", async () => {
    const path = "/registries?enabled=true&limit=1";
    const get = await request("GET", path);
    const head = await request("HEAD", path);
    expect(head.status).toBe(200);
    expect(header(head, "content-length")).toBe(String(Buffer.byteLength(get.text)));
    const refused = await request("HEAD", "/registries?limit=0");
    expect(refused.status).toBe(422);
    expect(header(refused, "content-type")).toMatch(/^application\/problem\+json/);
    expect(refused.text).toBe("");
  });

  it("the token is still required: 401 with WWW-Authenticate, no body", async () => {
    for (const path of ["/registries", `/registries/${registry.id}`, `/sandbox-images/${image.id}`]) {
      const res = await send(app.url, { method: "HEAD", path, workspace: W });
      expect(res.status, path).toBe(401);
      expect(header(res, "www-authenticate"), path).toBe('Bearer realm="modbox"');
      expect(res.text, path).toBe("");
    }
  });

  it("a missing or another workspace's id is 404 with the GET's problem headers, no body", async () => {
    const foreign = await app.client(freshWorkspaceId("head-other")).registries.create({
      name: "Not yours", server: "ghcr.io", username: "robot", password: "other-secret",
    });
    for (const path of [`/registries/${randomUUID()}`, `/sandbox-images/${randomUUID()}`, `/registries/${foreign.id}`]) {
      const get = await request("GET", path);
      const head = await request("HEAD", path);
      expectProblem(get, 404, "not_found", path);
      expect(head.status, path).toBe(404);
      expect(head.text, path).toBe("");
      expect(comparableHeaders(head), path).toEqual(comparableHeaders(get));
    }
    // An id the contract does not accept: 422, as for GET.
    expect((await request("HEAD", `/registries/urn:uuid:${randomUUID()}`)).status).toBe(422);
  });

  it("a route without GET answers HEAD with 405 and its Allow; a 405 on a GET route lists HEAD", async () => {
    for (const path of [`/registries/${registry.id}/verify`, `/sandbox-images/${image.id}/pull-check`]) {
      const res = await request("HEAD", path);
      expect(res.status, path).toBe(405);
      expect(header(res, "allow"), path).toBe("POST");
    }
    const patch = await request("PATCH", `/registries/${registry.id}`, { json: { enabled: false } });
    expectProblem(patch, 405, "method_not_allowed");
    expect(allowed(patch)).toEqual(["DELETE", "GET", "HEAD", "PUT"]);
    const list = await request("DELETE", "/registries");
    expectProblem(list, 405, "method_not_allowed");
    expect(allowed(list)).toEqual(["GET", "HEAD", "POST"]);
  });

  it("the request log says HEAD", async () => {
    await request("HEAD", `/sandbox-images/${image.id}`, { headers: { "x-request-id": "head-logged" } });
    await new Promise((r) => setTimeout(r, 20));
    const logged = app.logs.map((line) => JSON.parse(line) as { req?: { id?: string; method?: string } }).filter((l) => l.req?.id === "head-logged");
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.map((l) => l.req?.method)).toEqual(logged.map(() => "HEAD"));
  });
});
