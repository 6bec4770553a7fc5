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
