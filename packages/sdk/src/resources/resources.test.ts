import { describe, expect, test } from "vitest";
import { createClient } from "../client.js";
import { APIError, NotFoundError, PermissionDeniedError, PreconditionFailedError, ServiceUnavailableError } from "../errors.js";
import { json, problem, registry, scriptedFetch } from "../testing/fake-fetch.js";
import type { SandboxImage, Token, TokenCreate, TokenCreated } from "../types.js";

const ID = "0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70";

function setup(...answers: Parameters<typeof scriptedFetch>) {
  const { fetch, requests } = scriptedFetch(...answers);
  const client = createClient({ baseUrl: "http://api.test/v0/", token: "t", workspaceId: "ws", fetch });
  return { client, requests };
}

async function describeRequest(request: Request) {
  const url = new URL(request.url);
  const body = request.body === null ? undefined : await request.json();
  return { method: request.method, path: url.pathname, search: url.search, body };
}

const image: SandboxImage = {
  id: ID,
  workspace_id: "ws",
  name: "app",
  image: "ghcr.io/acme/app",
  tag: "latest",
  registry_id: null,
  registry_name: null,
  reference: "ghcr.io/acme/app:latest",
  description: null,
  enabled: true,
  is_default: false,
  memory_mb: 1024,
  ttl_seconds: null,
  readiness_port: null,
  created_at: "2026-11-28T12:05:00.000Z",
  updated_at: "2026-11-28T12:05:00.000Z",
};

describe("registries", () => {
  test("create POSTs the body and returns the registry", async () => {
    const { client, requests } = setup(json(registry(), 201));
    const body = { name: "GHCR", server: "ghcr.io", username: "u", password: "p" };
    expect(await client.registries.create(body)).toEqual(registry());
    expect(await describeRequest(requests[0]!)).toEqual({
      method: "POST",
      path: "/v0/registries",
      search: "",
      body,
    });
    expect(requests[0]!.headers.get("content-type")).toBe("application/json");
  });

  test("get, update and delete address the registry by id", async () => {
    const { client, requests } = setup(
      json(registry()),
      json(registry({ enabled: false })),
      new Response(null, { status: 204 }),
    );
    expect(await client.registries.get(ID)).toEqual(registry());
    expect(await client.registries.update(ID, { enabled: false })).toMatchObject({ enabled: false });
    expect(await client.registries.delete(ID)).toBeUndefined();
    expect(await Promise.all(requests.map(describeRequest))).toEqual([
      { method: "GET", path: `/v0/registries/${ID}`, search: "", body: undefined },
      { method: "PUT", path: `/v0/registries/${ID}`, search: "", body: { enabled: false } },
      { method: "DELETE", path: `/v0/registries/${ID}`, search: "", body: undefined },
    ]);
  });

  test("verify on save, verify, and a forced delete send their query and path", async () => {
    const verification = { status: "verified", checked_at: "2026-11-28T12:10:00.000Z", error_code: null, detail: null };
    const { client, requests } = setup(
      json(registry(), 201),
      json(registry()),
      json(verification),
      new Response(null, { status: 204 }),
    );
    const body = { name: "GHCR", server: "ghcr.io", username: "u", password: "p" };
    await client.registries.create(body, { verify: true });
    await client.registries.update(ID, { password: "q" }, { verify: true });
    expect(await client.registries.verify(ID)).toEqual(verification);
    await client.registries.delete(ID, { force: true });
    expect(await Promise.all(requests.map(describeRequest))).toEqual([
      { method: "POST", path: "/v0/registries", search: "?verify=true", body },
      { method: "PUT", path: `/v0/registries/${ID}`, search: "?verify=true", body: { password: "q" } },
      { method: "POST", path: `/v0/registries/${ID}/verify`, search: "", body: undefined },
      { method: "DELETE", path: `/v0/registries/${ID}`, search: "?force=true", body: undefined },
    ]);
  });

  test("an id cannot escape its path segment", async () => {
    const { client, requests } = setup(json(registry()));
    await client.registries.get("../sandbox-images");
    expect(new URL(requests[0]!.url).pathname).toBe("/v0/registries/..%2Fsandbox-images");
  });

  test("list iterates every registry across 3 pages, sending the filters each time", async () => {
    const { client, requests } = setup(
      json({ data: [registry({ name: "a" }), registry({ name: "b" })], next_cursor: "p2" }),
      json({ data: [registry({ name: "c" })], next_cursor: "p3" }),
      json({ data: [registry({ name: "d" })], next_cursor: null }),
    );
    const names: string[] = [];
    for await (const r of client.registries.list({ enabled: true, server: "ghcr.io", limit: 2 })) {
      // Bounded: the fake repeats its last page forever, so a paginator that does not stop fails here.
      if (names.length === 4) expect.fail("more than 4 registries: the iteration does not end");
      names.push(r.name);
    }
    expect(names).toEqual(["a", "b", "c", "d"]);
    expect(requests.map((r) => Object.fromEntries(new URL(r.url).searchParams))).toEqual([
      { enabled: "true", server: "ghcr.io", limit: "2" },
      { enabled: "true", server: "ghcr.io", limit: "2", cursor: "p2" },
      { enabled: "true", server: "ghcr.io", limit: "2", cursor: "p3" },
    ]);
  });

  test("awaiting list gives one page", async () => {
    const { client, requests } = setup(json({ data: [registry()], next_cursor: "p2" }));
    const page = await client.registries.list();
    expect(page.data).toEqual([registry()]);
    expect(page.hasNextPage()).toBe(true);
    expect(requests).toHaveLength(1);
    expect(new URL(requests[0]!.url).search).toBe("");
  });
});

describe("sandboxImages", () => {
  test("create, get, update, delete", async () => {
    const { client, requests } = setup(
      json(image, 201),
      json(image),
      json({ ...image, registry_id: ID }),
      new Response(null, { status: 204 }),
    );
    await client.sandboxImages.create({ name: "app", image: "ghcr.io/acme/app" });
    await client.sandboxImages.get(ID);
    await client.sandboxImages.update(ID, { registry_id: ID });
    await client.sandboxImages.delete(ID);
    expect(await Promise.all(requests.map(describeRequest))).toEqual([
      {
        method: "POST",
        path: "/v0/sandbox-images",
        search: "",
        body: { name: "app", image: "ghcr.io/acme/app" },
      },
      { method: "GET", path: `/v0/sandbox-images/${ID}`, search: "", body: undefined },
      { method: "PUT", path: `/v0/sandbox-images/${ID}`, search: "", body: { registry_id: ID } },
      { method: "DELETE", path: `/v0/sandbox-images/${ID}`, search: "", body: undefined },
    ]);
  });

  test("list follows cursors with the same filters", async () => {
    const { client, requests } = setup(
      json({ data: [image], next_cursor: "n" }),
      json({ data: [image], next_cursor: null }),
    );
    const all: SandboxImage[] = [];
    for await (const i of client.sandboxImages.list({ registry_id: ID })) {
      // Bounded, as above.
      if (all.length === 2) expect.fail("more than 2 images: the iteration does not end");
      all.push(i);
    }
    expect(all).toHaveLength(2);
    expect(requests.map((r) => new URL(r.url).search)).toEqual([
      `?registry_id=${ID}`,
      `?registry_id=${ID}&cursor=n`,
    ]);
  });
});

test("client.raw shares headers and transport, and returns { data, error, response }", async () => {
  const { client, requests } = setup(json({ data: [], next_cursor: null }), json({ code: "x" }, 418));
  const ok = await client.raw.GET("/registries", { params: { query: { enabled: false } } });
  expect(ok.data).toEqual({ data: [], next_cursor: null });
  const failed = await client.raw.GET("/registries/{registry_id}", {
    params: { path: { registry_id: ID } },
  });
  expect(failed.error).toEqual({ code: "x" });
  expect(failed.response.status).toBe(418);
  expect(requests.map((r) => r.headers.get("x-workspace-id"))).toEqual(["ws", "ws"]);
});

describe("pull checks and pull credentials", () => {
  test("pullCheck and provisioning.pullCredentials POST to the image's sub-resources", async () => {
    const check = {
      image_id: ID,
      reference: "ghcr.io/acme/app:latest",
      pullable: false,
      digest: null,
      media_type: null,
      error_code: "registry_deleted",
      detail: "deleted",
      checked_at: "2026-11-28T12:15:00.000Z",
    };
    const credentials = { image_id: ID, reference: "docker.io/library/ubuntu:latest", registry: null, auth: null };
    const { client, requests } = setup(json(check), json(credentials));
    expect(await client.sandboxImages.pullCheck(ID)).toEqual(check);
    expect(await client.provisioning.pullCredentials(ID)).toEqual(credentials);
    expect(await Promise.all(requests.map(describeRequest))).toEqual([
      { method: "POST", path: `/v0/sandbox-images/${ID}/pull-check`, search: "", body: undefined },
      { method: "POST", path: `/v0/sandbox-images/${ID}/pull-credentials`, search: "", body: undefined },
    ]);
  });
});

const stored: Token = {
  id: ID,
  name: "ci",
  scope: "workspace",
  all_workspaces: false,
  workspaces: ["ws"],
  created_at: "2026-11-28T12:20:00.000Z",
  created_by: "bootstrap",
  last_used_at: null,
  revoked_at: null,
};
const created: TokenCreated = { ...stored, token: "mbx_Xq3vT9kLm2Pz8RbW4nYc6HdJ0sFa1GeKb0d90f07" };

describe("tokens", () => {
  test("create POSTs the body to /tokens and answers the token; get and delete address it by id", async () => {
    const { client, requests } = setup(json(created, 201), json(stored), new Response(null, { status: 204 }));
    const body: TokenCreate = { name: "ci", scope: "workspace", workspaces: ["ws"] };
    expect(await client.tokens.create(body)).toEqual(created);
    expect(await client.tokens.get(ID)).toEqual(stored);
    expect(await client.tokens.delete(ID)).toBeUndefined();
    expect(await Promise.all(requests.map(describeRequest))).toEqual([
      { method: "POST", path: "/v0/tokens", search: "", body },
      { method: "GET", path: `/v0/tokens/${ID}`, search: "", body: undefined },
      { method: "DELETE", path: `/v0/tokens/${ID}`, search: "", body: undefined },
    ]);
  });

  test("list iterates every token across pages, sending the filter each time", async () => {
    const { client, requests } = setup(
      json({ data: [{ ...stored, name: "a" }], next_cursor: "p2" }),
      json({ data: [{ ...stored, name: "b" }], next_cursor: null }),
    );
    const names: string[] = [];
    for await (const t of client.tokens.list({ revoked: false, limit: 1 })) {
      if (names.length === 2) expect.fail("more than 2 tokens: the iteration does not end");
      names.push(t.name);
    }
    expect(names).toEqual(["a", "b"]);
    expect(requests.map((r) => Object.fromEntries(new URL(r.url).searchParams))).toEqual([
      { revoked: "false", limit: "1" },
      { revoked: "false", limit: "1", cursor: "p2" },
    ]);
  });

  test("create is never retried (a lost answer may hold a token nobody has); delete is", async () => {
    const unavailable = problem(503, { code: "service_unavailable" }, { "retry-after": "0" });
    const first = setup(unavailable);
    await expect(first.client.tokens.create({ name: "ops", scope: "admin", all_workspaces: true })).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(
      setup(new TypeError("fetch failed")).client.tokens.create({ name: "ops", scope: "admin", all_workspaces: true }),
    ).rejects.toMatchObject({ name: "ConnectionError" });
    expect(first.requests).toHaveLength(1);
    const second = setup(unavailable, new Response(null, { status: 204 }));
    await second.client.tokens.delete(ID);
    expect(second.requests.map((r) => r.method)).toEqual(["DELETE", "DELETE"]);
  });

  test("a token without the admin scope gets PermissionDeniedError insufficient_scope", async () => {
    const { client } = setup(problem(403, { code: "insufficient_scope", detail: "This operation needs an admin token; this token's scope is workspace." }));
    const err = await client.tokens.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ status: 403, code: "insufficient_scope" });
  });
});

describe("Idempotency-Key", () => {
  test("every POST the contract gives a key sends one; nothing else does", async () => {
    // One answer for all: each call only needs to be sent; list needs a page shape.
    const { client, requests } = setup(json({ data: [], next_cursor: null }));
    const registryBody = { name: "r", server: "ghcr.io", username: "u", password: "p" };
    await client.registries.create(registryBody);
    await client.registries.verify(ID);
    await client.sandboxImages.create({ name: "app", image: "ghcr.io/acme/app" });
    await client.sandboxImages.pullCheck(ID);
    await client.provisioning.pullCredentials(ID);
    await client.tokens.create({ name: "ci", scope: "workspace", workspaces: ["ws"] });
    await client.registries.get(ID);
    await client.registries.update(ID, { enabled: false });
    await client.sandboxImages.list();
    const sent = requests.map((r) => [
      `${r.method} ${new URL(r.url).pathname}`,
      r.headers.get("idempotency-key") !== null,
    ]);
    expect(sent).toEqual([
      ["POST /v0/registries", true],
      [`POST /v0/registries/${ID}/verify`, true],
      ["POST /v0/sandbox-images", true],
      [`POST /v0/sandbox-images/${ID}/pull-check`, true],
      [`POST /v0/sandbox-images/${ID}/pull-credentials`, false],
      ["POST /v0/tokens", false],
      [`GET /v0/registries/${ID}`, false],
      [`PUT /v0/registries/${ID}`, false],
      ["GET /v0/sandbox-images", false],
    ]);
    const keys = requests.map((r) => r.headers.get("idempotency-key")).filter((k) => k !== null);
    expect(new Set(keys).size).toBe(4);
  });

  test("idempotencyKey is sent as given, on every keyed POST", async () => {
    const { client, requests } = setup(json({}));
    await client.registries.create({ name: "r", server: "ghcr.io", username: "u", password: "p" }, { idempotencyKey: "a" });
    await client.registries.verify(ID, { idempotencyKey: "b" });
    await client.sandboxImages.create({ name: "app", image: "ghcr.io/acme/app" }, { idempotencyKey: "c" });
    await client.sandboxImages.pullCheck(ID, { idempotencyKey: "d" });
    expect(requests.map((r) => r.headers.get("idempotency-key"))).toEqual(["a", "b", "c", "d"]);
  });
});

describe("conditional writes", () => {
  test("ifMatch is sent as If-Match by update and delete of both resources", async () => {
    const { client, requests } = setup(json({}), new Response(null, { status: 204 }));
    await client.registries.update(ID, { enabled: false }, { ifMatch: '"1.a"' });
    await client.registries.delete(ID, { ifMatch: '"2.b"', force: true });
    await client.sandboxImages.update(ID, { tag: "v2" }, { ifMatch: '"3.c"' });
    await client.sandboxImages.delete(ID, { ifMatch: '"4.d"' });
    expect(requests.map((r) => [r.method, r.headers.get("if-match")])).toEqual([
      ["PUT", '"1.a"'],
      ["DELETE", '"2.b"'],
      ["PUT", '"3.c"'],
      ["DELETE", '"4.d"'],
    ]);
    expect(new URL(requests[1]!.url).search).toBe("?force=true");
  });

  test("without ifMatch no If-Match is sent (an unconditional write)", async () => {
    const { client, requests } = setup(json({}), new Response(null, { status: 204 }));
    await client.registries.update(ID, { enabled: false });
    await client.registries.update(ID, { enabled: false }, { ifMatch: undefined });
    await client.sandboxImages.delete(ID);
    expect(requests.map((r) => r.headers.has("if-match"))).toEqual([false, false, false]);
  });

  test("a stale If-Match throws PreconditionFailedError, once", async () => {
    const stale = problem(412, { code: "precondition_failed", detail: "changed", request_id: "req-412" });
    const { client, requests } = setup(stale);
    for (const call of [
      () => client.registries.update(ID, { enabled: false }, { ifMatch: '"1.a"' }),
      () => client.registries.delete(ID, { ifMatch: '"1.a"' }),
      () => client.sandboxImages.update(ID, { tag: "v2" }, { ifMatch: '"1.a"' }),
      () => client.sandboxImages.delete(ID, { ifMatch: '"1.a"' }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreconditionFailedError);
      expect(error).toMatchObject({ status: 412, code: "precondition_failed", requestId: "req-412" });
    }
    expect(requests).toHaveLength(4);
  });
});

describe("withResponse", () => {
  const headers = { etag: '"3.k2x1c9"', "x-request-id": "req-7" };

  test("get, create and update resolve the data with its ETag, request id and response", async () => {
    const { client, requests } = setup(json(registry(), 200, headers), json(image, 201, headers));
    const got = await client.registries.get(ID).withResponse();
    expect(got.data).toEqual(registry());
    expect(got.etag).toBe('"3.k2x1c9"');
    expect(got.requestId).toBe("req-7");
    expect(got.response.status).toBe(200);
    const created = await client.sandboxImages.create({ name: "app", image: "ghcr.io/acme/app" }).withResponse();
    expect(created).toMatchObject({ data: image, etag: '"3.k2x1c9"', requestId: "req-7" });
    expect(created.response.status).toBe(201);
    const updated = await client.registries.update(ID, { enabled: false }).withResponse();
    expect(updated.etag).toBe('"3.k2x1c9"');
    expect(requests).toHaveLength(3);
  });

  test("awaiting the call still gives the plain data", async () => {
    const { client } = setup(json(registry(), 200, headers));
    expect(await client.registries.get(ID)).toEqual(registry());
  });

  test("the request is sent once, however the result is read", async () => {
    const { client, requests } = setup(json(registry(), 200, headers));
    const call = client.registries.get(ID);
    const [data, withResponse] = await Promise.all([call, call.withResponse(), call.then((r) => r.name)]);
    expect(data).toEqual(registry());
    expect(withResponse.data).toBe(data);
    expect(requests).toHaveLength(1);
  });

  test("an ETag the server did not send is undefined", async () => {
    const { client } = setup(json(registry()));
    const { etag, requestId } = await client.registries.get(ID).withResponse();
    expect(etag).toBeUndefined();
    expect(requestId).toBeUndefined();
  });

  test("a failed call rejects withResponse with the same typed error", async () => {
    const { client } = setup(problem(404, { code: "not_found" }));
    await expect(client.registries.get(ID).withResponse()).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.sandboxImages.delete(ID).withResponse()).rejects.toBeInstanceOf(NotFoundError);
  });

  test("delete gives the response and request id too", async () => {
    const { client } = setup(new Response(null, { status: 204, headers: { "x-request-id": "req-del" } }));
    const deleted = await client.registries.delete(ID).withResponse();
    expect(deleted.data).toBeUndefined();
    expect(deleted.requestId).toBe("req-del");
    expect(deleted.response.status).toBe(204);
  });
});

describe("get with ifNoneMatch", () => {
  const notModified = () =>
    new Response(null, { status: 304, headers: { etag: '"3.k2x1c9"', "x-request-id": "req-304" } });

  test("sends If-None-Match and resolves null when the copy held is current", async () => {
    const { client, requests } = setup(notModified());
    expect(await client.registries.get(ID, { ifNoneMatch: '"3.k2x1c9"' })).toBeNull();
    const { data, etag, response } = await client.sandboxImages
      .get(ID, { ifNoneMatch: '"3.k2x1c9"' })
      .withResponse();
    expect(data).toBeNull();
    expect(etag).toBe('"3.k2x1c9"');
    expect(response.status).toBe(304);
    expect(requests.map((r) => r.headers.get("if-none-match"))).toEqual(['"3.k2x1c9"', '"3.k2x1c9"']);
  });

  test("resolves the object with its new ETag when it changed", async () => {
    const { client } = setup(json(registry({ enabled: false }), 200, { etag: '"4.zz"' }));
    const { data, etag } = await client.registries.get(ID, { ifNoneMatch: '"3.k2x1c9"' }).withResponse();
    expect(data).toEqual(registry({ enabled: false }));
    expect(etag).toBe('"4.zz"');
  });

  test("a plain get sends no If-None-Match, and a 304 it did not ask for is an error, not null", async () => {
    const { client, requests } = setup(notModified());
    const error = await client.registries
      .get(ID, { headers: { "If-None-Match": '"3.k2x1c9"' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 304 });
    await client.sandboxImages.get(ID).catch(() => undefined);
    expect(requests[1]!.headers.has("if-none-match")).toBe(false);
  });
});
