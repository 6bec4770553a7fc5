import { randomUUID } from "node:crypto";
import {
  ConflictError,
  NotFoundError,
  UnprocessableEntityError,
  type ModboxClient,
  type Registry,
} from "@modbox/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";

/** Registries through the SDK against the real app (response validation on), per backend. */
describe.each(backends)("registries contract on %s", (backend) => {
  let app: TestApp;
  let client: ModboxClient;

  beforeAll(async () => {
    app = await startTestApp(backend);
    client = app.client(`ws-${randomUUID()}`);
  });
  afterAll(() => app?.close());

  const ghcr = () => ({
    name: `GitHub Container Registry ${randomUUID()}`,
    server: "ghcr.io",
    username: "your-github-username",
    password: `test-${randomUUID()}`,
    email: "you@yourcompany.com",
  });

  it("creates a registry: 201 with every documented field and no password", async () => {
    const input = ghcr();
    const registry = await client.registries.create(input);
    expect(registry).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: input.name,
      server: "ghcr.io",
      username: "your-github-username",
      email: "you@yourcompany.com",
      enabled: true,
      provider: "ghcr",
      ca_certificate: null,
      verification: { status: "unverified", checked_at: null, error_code: null, detail: null },
      // The test password is not a GitHub token: saved, with the provider's advice.
      warnings: [{ code: "ghcr_token_format", field: "password", message: expect.any(String) }],
      last_used_at: null,
      created_at: expect.any(String),
      updated_at: registry.created_at,
    });
    expect(new Date(registry.created_at).toISOString()).toBe(registry.created_at);
    expect(JSON.stringify(registry.warnings)).not.toContain(input.password);
    expect(JSON.stringify(registry)).not.toContain(input.password);
  });

  it("answers 201 with a Location header", async () => {
    const response = await fetch(`${app.url}/registries`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.token}`, "x-workspace-id": "ws-location", "content-type": "application/json" },
      body: JSON.stringify(ghcr()),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Registry;
    expect(response.headers.get("location")).toBe(`/registries/${body.id}`);
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("defaults email to null and enabled to true; honours enabled: false", async () => {
    const { email: _omit, ...input } = ghcr();
    const plain = await client.registries.create(input);
    expect(plain.email).toBeNull();
    expect(plain.enabled).toBe(true);
    const disabled = await client.registries.create({ ...ghcr(), enabled: false });
    expect(disabled.enabled).toBe(false);
  });

  it("gets a registry by id, and 404 not_found for a missing one", async () => {
    const created = await client.registries.create(ghcr());
    expect(await client.registries.get(created.id)).toEqual(created);
    const missing = await client.registries.get(randomUUID()).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe("not_found");
    expect((missing as NotFoundError).requestId).toBeTruthy();
  });

  it("409 registry_name_taken for a name already used in the workspace, not in another one", async () => {
    const input = ghcr();
    await client.registries.create(input);
    const clash = await client.registries.create({ ...input, password: "other" }).catch((e: unknown) => e);
    expect(clash).toBeInstanceOf(ConflictError);
    expect((clash as ConflictError).code).toBe("registry_name_taken");
    await expect(app.client(`ws-${randomUUID()}`).registries.create(input)).resolves.toMatchObject({ name: input.name });
  });

  it("updates only the fields sent (the seed's password rotation)", async () => {
    const created = await client.registries.create(ghcr());
    await new Promise((r) => setTimeout(r, 5));
    const rotated = await client.registries.update(created.id, { password: "new_token_here" });
    expect(rotated).toEqual({ ...created, updated_at: expect.any(String) });
    expect(rotated.updated_at > created.updated_at).toBe(true);

    const renamed = await client.registries.update(created.id, { name: `${created.name} (renamed)`, email: null, enabled: false });
    expect(renamed).toMatchObject({ name: `${created.name} (renamed)`, email: null, enabled: false, server: created.server, username: created.username });
  });

  it("rotating the password stores a new ciphertext", async () => {
    const created = await client.registries.create(ghcr());
    const before = await storedCiphertext(app, created.id);
    await client.registries.update(created.id, { password: "rotated" });
    const after = await storedCiphertext(app, created.id);
    expect(before).toMatch(/^v1:/);
    expect(after).toMatch(/^v1:/);
    expect(after).not.toBe(before);
  });

  it("409 when a rename takes another registry's name; 404 when updating a missing registry", async () => {
    const a = await client.registries.create(ghcr());
    const b = await client.registries.create(ghcr());
    await expect(client.registries.update(b.id, { name: a.name })).rejects.toMatchObject({ status: 409, code: "registry_name_taken" });
    await expect(client.registries.update(randomUUID(), { enabled: false })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("422 for an empty update", async () => {
    const created = await client.registries.create(ghcr());
    const err = await client.registries.update(created.id, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessableEntityError);
    expect((err as UnprocessableEntityError).code).toBe("validation_failed");
  });

  it("deletes: 204, then 404, and the name is free again", async () => {
    const created = await client.registries.create(ghcr());
    await client.registries.delete(created.id);
    await expect(client.registries.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.registries.delete(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.registries.create({ ...ghcr(), name: created.name })).resolves.toMatchObject({ name: created.name });
    expect(await storedCiphertext(app, created.id)).toBeNull();
  });

  it("lists newest first with cursor pagination and filters", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    const made: Registry[] = [];
    for (let i = 0; i < 7; i++) {
      made.push(await ws.registries.create({ ...ghcr(), server: i % 2 ? "ghcr.io" : "registry-1.docker.io", enabled: i !== 3 }));
    }
    const first = await ws.registries.list({ limit: 3 });
    expect(first.data.map((r) => r.id)).toEqual(made.slice(-3).reverse().map((r) => r.id));
    expect(first.nextCursor).toEqual(expect.any(String));

    const all: string[] = [];
    for await (const r of ws.registries.list({ limit: 2 })) all.push(r.id);
    expect(all).toEqual(made.map((r) => r.id).reverse());

    const ghcrOnly: Registry[] = [];
    for await (const r of ws.registries.list({ limit: 1, server: "ghcr.io" })) ghcrOnly.push(r);
    expect(ghcrOnly.map((r) => r.id)).toEqual(made.filter((r) => r.server === "ghcr.io").map((r) => r.id).reverse());

    const disabled = await ws.registries.list({ enabled: false });
    expect(disabled.data.map((r) => r.id)).toEqual([made[3]!.id]);
    expect(disabled.nextCursor).toBeNull();
  });

  it("422 invalid_cursor for a cursor replayed with other filters or not issued by the server", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    for (let i = 0; i < 3; i++) await ws.registries.create(ghcr());
    const page = await ws.registries.list({ limit: 1 });
    const cursor = page.nextCursor!;
    await expect(ws.registries.list({ cursor, enabled: true })).rejects.toMatchObject({ status: 422, code: "invalid_cursor" });
    await expect(ws.registries.list({ cursor: "bm90LWEtY3Vyc29y" })).rejects.toMatchObject({ status: 422, code: "invalid_cursor" });
  });

  it("a page is stable while rows are inserted before it", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    for (let i = 0; i < 4; i++) await ws.registries.create(ghcr());
    const first = await ws.registries.list({ limit: 2 });
    await ws.registries.create(ghcr());
    const second = await first.getNextPage();
    const seen = [...first.data, ...second.data].map((r) => r.id);
    expect(new Set(seen).size).toBe(4);
  });
});

async function storedCiphertext(app: TestApp, id: string): Promise<string | null> {
  const { sql } = await import("drizzle-orm");
  const result = await app.database.db.execute(sql`select password_ciphertext from registries where id = ${id}`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ password_ciphertext: string | null }>;
  return rows[0]?.password_ciphertext ?? null;
}
