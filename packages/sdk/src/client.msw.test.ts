// A network-level test: msw intercepts the real globalThis.fetch, so this exercises the SDK as
// an application would run it, with no injected fetch.
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { createClient } from "./client.js";
import { ConflictError } from "./errors.js";
import { registry } from "./testing/fake-fetch.js";

const BASE = "http://modbox.test";

// Built before server.listen() on purpose: the transport looks up globalThis.fetch per call,
// so a client made before msw patched fetch still goes through it.
const client = createClient({ baseUrl: BASE, token: "mbx_msw", workspaceId: "acme" });

const server = setupServer(
  http.post(`${BASE}/registries`, async ({ request }) => {
    if (request.headers.get("authorization") !== "Bearer mbx_msw") {
      return HttpResponse.json({ code: "unauthorized" }, { status: 401 });
    }
    const body = (await request.json()) as { name: string };
    if (body.name === "taken") {
      return HttpResponse.json(
        {
          type: "https://modbox.dev/problems/registry_name_taken",
          title: "Conflict",
          status: 409,
          code: "registry_name_taken",
          detail: "A registry with this name already exists in the workspace.",
          request_id: "req-msw",
        },
        { status: 409, headers: { "content-type": "application/problem+json" } },
      );
    }
    const workspace = request.headers.get("x-workspace-id");
    return HttpResponse.json(registry({ name: `${workspace}/${body.name}` }), { status: 201 });
  }),
);

// A server that keeps the answer of each Idempotency-Key, as the real one does, and that loses
// the connection right after acting the first time a key is seen.
function lossyIdempotentServer() {
  const stored = new Map<string, { name: string }>();
  const answers = new Map<string, { id: string; name: string }>();
  const keys: (string | null)[] = [];
  const handler = http.post(`${BASE}/sandbox-images`, async ({ request }) => {
    const key = request.headers.get("idempotency-key");
    keys.push(key);
    const replay = key === null ? undefined : answers.get(key);
    if (replay !== undefined) {
      return HttpResponse.json(replay, { status: 201, headers: { "idempotent-replayed": "true" } });
    }
    const body = (await request.json()) as { name: string };
    const id = `img-${stored.size + 1}`;
    stored.set(id, body);
    if (key !== null) answers.set(key, { id, name: body.name });
    return HttpResponse.error(); // acted, but the answer never arrives
  });
  return { handler, stored, keys };
}

beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

test("create over the network sends the headers and returns the registry", async () => {
  const created = await client.registries.create({
    name: "ghcr",
    server: "ghcr.io",
    username: "u",
    password: "p",
  });
  expect(created.name).toBe("acme/ghcr");
  expect(created).not.toHaveProperty("password");
});

test("a problem+json answer becomes a typed error", async () => {
  const error = await client.registries
    .create({ name: "taken", server: "ghcr.io", username: "u", password: "p" })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConflictError);
  expect(error).toMatchObject({ status: 409, code: "registry_name_taken", requestId: "req-msw" });
});

test("a create whose answer was lost is retried with its key and stored once", async () => {
  const lossy = lossyIdempotentServer();
  server.use(lossy.handler);
  const { data, response } = await client.sandboxImages
    .create({ name: "app", image: "ghcr.io/acme/app" })
    .withResponse();
  expect(data).toEqual({ id: "img-1", name: "app" });
  expect(response.headers.get("idempotent-replayed")).toBe("true");
  expect(lossy.stored.size).toBe(1);
  expect(lossy.keys).toHaveLength(2);
  expect(lossy.keys[0]).toBeTypeOf("string");
  expect(lossy.keys[1]).toBe(lossy.keys[0]);
});
