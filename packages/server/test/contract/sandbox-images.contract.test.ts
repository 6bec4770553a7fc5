import { randomUUID } from "node:crypto";
import { NotFoundError, UnprocessableEntityError, type ModboxClient, type SandboxImage } from "@modbox/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";

describe.each(backends)("sandbox images contract on %s", (backend) => {
  let app: TestApp;
  let client: ModboxClient;
  let workspaceId: string;
  let registryId: string;

  beforeAll(async () => {
    app = await startTestApp(backend);
    workspaceId = `ws-${randomUUID()}`;
    client = app.client(workspaceId);
    const registry = await client.registries.create({
      name: "GitHub Container Registry",
      server: "ghcr.io",
      username: "your-github-username",
      password: `test-${randomUUID()}`,
    });
    registryId = registry.id;
  });
  afterAll(() => app?.close());

  it("creates the seed's linked image with every default of the contract", async () => {
    const image = await client.sandboxImages.create({
      name: "Our Private App",
      image: "ghcr.io/your-org/your-image",
      tag: "latest",
      registry_id: registryId,
    });
    expect(image).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      workspace_id: workspaceId,
      name: "Our Private App",
      image: "ghcr.io/your-org/your-image",
      tag: "latest",
      registry_id: registryId,
      registry_name: "GitHub Container Registry",
      reference: "ghcr.io/your-org/your-image:latest",
      description: null,
      enabled: true,
      is_default: false,
      memory_mb: 1024,
      ttl_seconds: null,
      readiness_port: null,
      created_at: expect.any(String),
      updated_at: image.created_at,
    });
  });

  it("creates a public image with every field set, and gets it back", async () => {
    const image = await client.sandboxImages.create({
      name: "Python",
      image: "python",
      tag: "3.12-slim",
      registry_id: null,
      description: "Python sandbox",
      enabled: false,
      is_default: false,
      memory_mb: 2048,
      ttl_seconds: 3600,
      readiness_port: 8080,
    });
    expect(image).toMatchObject({
      registry_id: null,
      registry_name: null,
      reference: "docker.io/library/python:3.12-slim",
      memory_mb: 2048,
      ttl_seconds: 3600,
      readiness_port: 8080,
      enabled: false,
    });
    expect(await client.sandboxImages.get(image.id)).toEqual(image);
  });

  it("defaults tag to latest", async () => {
    const image = await client.sandboxImages.create({ name: "No tag", image: "ubuntu" });
    expect(image.tag).toBe("latest");
    expect(image.reference).toBe("docker.io/library/ubuntu:latest");
  });

  it("422 registry_not_found when registry_id names no registry of the workspace", async () => {
    const err = await client.sandboxImages
      .create({ name: "x", image: "ghcr.io/a/b", registry_id: randomUUID() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessableEntityError);
    expect((err as UnprocessableEntityError).code).toBe("registry_not_found");
    expect((err as UnprocessableEntityError).errors).toEqual([
      { path: "/body/registry_id", message: expect.any(String) },
    ]);
  });

  it("updates partially: only the fields sent change; registry_id null unlinks", async () => {
    const image = await client.sandboxImages.create({ name: "Partial", image: "ghcr.io/o/i", registry_id: registryId, memory_mb: 512, ttl_seconds: 120 });
    const updated = await client.sandboxImages.update(image.id, { tag: "v2" });
    expect(updated).toEqual({ ...image, tag: "v2", reference: "ghcr.io/o/i:v2", updated_at: expect.any(String) });
    const unlinked = await client.sandboxImages.update(image.id, { registry_id: null, ttl_seconds: null });
    expect(unlinked).toMatchObject({ registry_id: null, registry_name: null, ttl_seconds: null, memory_mb: 512, tag: "v2" });
    await expect(client.sandboxImages.update(image.id, { registry_id: randomUUID() })).rejects.toMatchObject({ status: 422, code: "registry_not_found" });
    await expect(client.sandboxImages.update(randomUUID(), { tag: "x" })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("keeps one default image per workspace", async () => {
    const a = await client.sandboxImages.create({ name: "A", image: "alpine", is_default: true });
    const b = await client.sandboxImages.create({ name: "B", image: "alpine", is_default: true });
    expect((await client.sandboxImages.get(a.id)).is_default).toBe(false);
    expect((await client.sandboxImages.get(b.id)).is_default).toBe(true);
    await client.sandboxImages.update(a.id, { is_default: true });
    expect((await client.sandboxImages.get(b.id)).is_default).toBe(false);
  });

  it("after the registry is deleted the image keeps registry_id and loses registry_name", async () => {
    const registry = await client.registries.create({ name: `doomed ${randomUUID()}`, server: "ghcr.io", username: "u", password: "p" });
    const image = await client.sandboxImages.create({ name: "Linked", image: "ghcr.io/o/i", registry_id: registry.id });
    // Still linked: a plain delete is refused (409 registry_in_use); forcing it is the caller's choice.
    await expect(client.registries.delete(registry.id)).rejects.toMatchObject({ status: 409, code: "registry_in_use" });
    await client.registries.delete(registry.id, { force: true });
    expect(await client.sandboxImages.get(image.id)).toEqual({ ...image, registry_id: registry.id, registry_name: null });
    await expect(client.sandboxImages.create({ name: "Late", image: "ghcr.io/o/i", registry_id: registry.id })).rejects.toMatchObject({
      code: "registry_not_found",
    });
  });

  it("lists with pagination and the registry_id and enabled filters", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    const reg = await ws.registries.create({ name: "r", server: "ghcr.io", username: "u", password: "p" });
    const made: SandboxImage[] = [];
    for (let i = 0; i < 5; i++) {
      made.push(await ws.sandboxImages.create({ name: `img ${i}`, image: "ghcr.io/o/i", registry_id: i < 3 ? reg.id : null, enabled: i !== 1 }));
    }
    const all: string[] = [];
    for await (const image of ws.sandboxImages.list({ limit: 2 })) all.push(image.id);
    expect(all).toEqual(made.map((m) => m.id).reverse());
    const linked: string[] = [];
    for await (const image of ws.sandboxImages.list({ limit: 1, registry_id: reg.id })) linked.push(image.id);
    expect(linked).toEqual(made.slice(0, 3).map((m) => m.id).reverse());
    expect((await ws.sandboxImages.list({ enabled: false })).data.map((i) => i.id)).toEqual([made[1]!.id]);
  });

  it("deletes: 204 then 404", async () => {
    const image = await client.sandboxImages.create({ name: "Bye", image: "busybox" });
    await client.sandboxImages.delete(image.id);
    await expect(client.sandboxImages.get(image.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.sandboxImages.delete(image.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
