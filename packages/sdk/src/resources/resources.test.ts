import { describe, expect, test } from "vitest";
import { createClient } from "../client.js";
import { json, registry, scriptedFetch } from "../testing/fake-fetch.js";
import type { SandboxImage } from "../types.js";

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
    for await (const i of client.sandboxImages.list({ registry_id: ID })) all.push(i);
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
