import { randomUUID } from "node:crypto";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { expectProblem, header, send, type RawRequest } from "@modbox/testkit/http";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryBody } from "./rules-app.js";

/** `Idempotency-Key` on the POSTs that create or act, over raw HTTP, per backend. */
describe.each(backends)("idempotency keys on %s", (backend) => {
  let app: TestApp;
  const call = (ws: string, req: Omit<RawRequest, "token" | "workspace">, token?: string) =>
    send(app.url, { token: token ?? app.token, workspace: ws, ...req });
  const freshWs = () => `ws-${randomUUID()}`;

  beforeAll(async () => {
    app = await startTestApp(backend);
  });
  afterAll(() => app?.close());

  async function registryCount(ws: string): Promise<number> {
    const res = await call(ws, { method: "GET", path: "/registries?limit=200" });
    return (res.json as { data: unknown[] }).data.length;
  }

  it("a create retried with its key answers the first answer again (status, body, ETag, Location) and creates once", async () => {
    const ws = freshWs();
    const key = randomUUID();
    const body = registryBody();
    const first = await call(ws, { method: "POST", path: "/registries", json: body, headers: { "idempotency-key": key } });
    expect(first.status).toBe(201);
    expect(header(first, "idempotent-replayed")).toBeUndefined();

    const again = await call(ws, { method: "POST", path: "/registries", json: body, headers: { "idempotency-key": key } });
    expect(again.status).toBe(201);
    expect(header(again, "idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    for (const name of ["etag", "location", "content-type"]) expect(header(again, name), name).toBe(header(first, name));
    // A fresh request id: the replay is its own request.
    expect(header(again, "x-request-id")).not.toBe(header(first, "x-request-id"));
    expect(await registryCount(ws)).toBe(1);
  });

  it("the same body with its keys in another order is the same request", async () => {
    const ws = freshWs();
    const key = randomUUID();
    const body = registryBody();
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    await call(ws, { method: "POST", path: "/registries", json: body, headers: { "idempotency-key": key } });
    const again = await call(ws, { method: "POST", path: "/registries", json: reordered, headers: { "idempotency-key": key } });
    expect(header(again, "idempotent-replayed")).toBe("true");
    expect(await registryCount(ws)).toBe(1);
  });

  it("the key with another body, path or query is 422 idempotency_key_reused, and nothing is created", async () => {
    const ws = freshWs();
    const key = randomUUID();
    const body = registryBody();
    await call(ws, { method: "POST", path: "/registries", json: body, headers: { "idempotency-key": key } });

    for (const [label, req] of [
      ["another password", { path: "/registries", json: { ...body, password: "ghp_another" } }],
      ["another query", { path: "/registries?verify=false", json: body }],
      ["another path", { path: "/sandbox-images", json: { name: "img", image: "ghcr.io/acme/app" } }],
    ] as const) {
      const res = await call(ws, { method: "POST", ...req, headers: { "idempotency-key": key } });
      const problem = expectProblem(res, 422, "idempotency_key_reused", label);
      expect(problem.errors).toEqual([{ path: "/header/idempotency-key", message: expect.any(String) }]);
      expect(res.text).not.toContain(body.password);
    }
    expect(await registryCount(ws)).toBe(1);
  });

  it("keys are scoped to the workspace and the token: the same key elsewhere is another request", async () => {
    const key = randomUUID();
    const [a, b] = [freshWs(), freshWs()];
    const other = await app.createToken({ workspaceIds: [a] });
    const created = await Promise.all([
      call(a, { method: "POST", path: "/registries", json: registryBody(), headers: { "idempotency-key": key } }),
      call(b, { method: "POST", path: "/registries", json: registryBody(), headers: { "idempotency-key": key } }),
      call(a, { method: "POST", path: "/registries", json: registryBody(), headers: { "idempotency-key": key } }, other),
    ]);
    expect(created.map((r) => [r.status, header(r, "idempotent-replayed")])).toEqual([
      [201, undefined],
      [201, undefined],
      [201, undefined],
    ]);
    expect(await registryCount(a)).toBe(2);
  });

  it("a refused request keeps nothing: its retry with the same key runs again", async () => {
    const ws = freshWs();
    const key = randomUUID();
    const taken = registryBody();
    await call(ws, { method: "POST", path: "/registries", json: taken });
    const refused = await call(ws, { method: "POST", path: "/registries", json: { ...registryBody(), name: taken.name }, headers: { "idempotency-key": key } });
    expectProblem(refused, 409, "registry_name_taken");

    const fixed = await call(ws, { method: "POST", path: "/registries", json: registryBody(), headers: { "idempotency-key": key } });
    expect(fixed.status).toBe(201);
    expect(header(fixed, "idempotent-replayed")).toBeUndefined();
  });

  it("concurrent requests with one key: one runs, the others wait (409 idempotency_in_progress) or replay; one registry", async () => {
    const ws = freshWs();
    const key = randomUUID();
    const body = registryBody();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => call(ws, { method: "POST", path: "/registries", json: body, headers: { "idempotency-key": key } })),
    );
    const ran = answers.filter((r) => r.status === 201 && header(r, "idempotent-replayed") === undefined);
    expect(ran).toHaveLength(1);
    for (const res of answers) {
      if (res.status === 409) {
        expectProblem(res, 409, "idempotency_in_progress");
        expect(header(res, "retry-after")).toBe("1");
      } else {
        expect(res.status).toBe(201);
        expect(res.json).toEqual(ran[0]!.json);
      }
    }
    expect(await registryCount(ws)).toBe(1);
  });

  it("verify and pull check replay their outcome too", async () => {
    const ws = freshWs();
    // Nothing listens on port 1: a quick, real `registry_unreachable`.
    const registry = await call(ws, { method: "POST", path: "/registries", json: { name: "closed", server: "127.0.0.1:1", username: "u", password: "p" } });
    const registryId = (registry.json as { id: string }).id;
    const image = await call(ws, { method: "POST", path: "/sandbox-images", json: { name: "img", image: "127.0.0.1:1/app", registry_id: registryId } });
    const imageId = (image.json as { id: string }).id;

    for (const path of [`/registries/${registryId}/verify`, `/sandbox-images/${imageId}/pull-check`]) {
      const key = randomUUID();
      const first = await call(ws, { method: "POST", path, headers: { "idempotency-key": key } });
      expect(first.status, path).toBe(200);
      const again = await call(ws, { method: "POST", path, headers: { "idempotency-key": key } });
      expect(header(again, "idempotent-replayed"), path).toBe("true");
      expect(again.json, path).toEqual(first.json);
    }
  });

  it("a key that is empty, too long or not visible ASCII is 422 validation_failed", async () => {
    const ws = freshWs();
    for (const key of ["", "x".repeat(256), "has space", "café"]) {
      const res = await call(ws, { method: "POST", path: "/registries", json: registryBody(), headers: { "idempotency-key": key } });
      expectProblem(res, 422, "validation_failed", key.slice(0, 20));
    }
    expect(await registryCount(ws)).toBe(0);
  });

  it("stores no password: the request is kept as a keyed fingerprint, the answer has none", async () => {
    const ws = freshWs();
    const body = registryBody();
    await call(ws, { method: "POST", path: "/registries", json: body, headers: { "idempotency-key": randomUUID() } });
    const rows = rowsOf(await app.database.db.execute(sql`select * from idempotency_keys where workspace_id = ${ws}`));
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(body.password);
    expect(rows[0]).toMatchObject({ state: "answered", response_status: 201, fingerprint: expect.stringMatching(/^[^:]+:[A-Za-z0-9_-]{43}$/) });
  });
});
