import { randomUUID } from "node:crypto";
import {
  NotFoundError,
  UnprocessableEntityError,
  type ModboxClient,
  type SandboxImage,
} from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";
import { collectAtMost } from "@modbox/testkit/paging";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hex, registryBody, apiError, expectFieldError, useRulesApp } from "./rules-app.js";

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
    // Bounded: pages that never end fail here instead of paging on.
    const all = (await collectAtMost(ws.sandboxImages.list({ limit: 2 }), made.length)).map((image) => image.id);
    expect(all).toEqual(made.map((m) => m.id).reverse());
    const linked = (await collectAtMost(ws.sandboxImages.list({ limit: 1, registry_id: reg.id }), made.length)).map((image) => image.id);
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

/**
 * The sandbox image rules, through the SDK against the real app: image references follow the
 * Docker reference grammar, and a linked registry must serve the image's host
 * (`registry_host_mismatch`, Docker Hub's spellings being one registry).
 */
const SHA256 = `sha256:${"0123456789abcdef".repeat(4)}`;

describe.each(backends)("sandbox image rules contract on %s", (backend) => {
  const rules = useRulesApp(backend);
  let client: ModboxClient;
  beforeAll(() => {
    ({ client } = rules);
  });

  // ─── Image references ────────────────────────────────────────────────────────────────────

  describe("image references follow the Docker reference grammar", () => {
    it.each([
      ["ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["ubuntu", "22.04", "docker.io/library/ubuntu:22.04"],
      ["library/ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["docker.io/library/ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["index.docker.io/library/ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["registry-1.docker.io/library/ubuntu", "noble", "docker.io/library/ubuntu:noble"],
      ["bitnami/redis", "7.2", "docker.io/bitnami/redis:7.2"],
      ["ghcr.io/your-org/your-image", "latest", "ghcr.io/your-org/your-image:latest"],
      ["GHCR.io/your-org/your-image", "v1", "ghcr.io/your-org/your-image:v1"],
      ["localhost:5000/team/app", "v1", "localhost:5000/team/app:v1"],
      ["localhost/team/app", undefined, "localhost/team/app:latest"],
      ["[::1]:5000/team/app", "v1", "[::1]:5000/team/app:v1"],
      ["registry.example.com/a.b/c_d/e__f/g-h", "V1.0_rc-2", "registry.example.com/a.b/c_d/e__f/g-h:V1.0_rc-2"],
      // A digest is what is pulled; the tag stays as a label.
      [`ghcr.io/org/app@${SHA256}`, "v1", `ghcr.io/org/app@${SHA256}`],
      [`ubuntu@${SHA256}`, undefined, `docker.io/library/ubuntu@${SHA256}`],
    ])("image %s, tag %s → reference %s", async (image, tag, reference) => {
      const created = await client.sandboxImages.create({ name: "ref", image, ...(tag !== undefined && { tag }) });
      expect(created).toMatchObject({ image, tag: tag ?? "latest", reference });
      expect(await client.sandboxImages.get(created.id)).toEqual(created);
    });

    it.each([
      ["uppercase (Org/App)", { image: "Org/App" }, "/body/image"],
      ["a tag in image", { image: "ghcr.io/a/b:tag" }, "/body/image"],
      ["a tag in image, Docker Hub", { image: "ubuntu:22.04" }, "/body/image"],
      ["a scheme", { image: "https://ghcr.io/a/b" }, "/body/image"],
      ["an empty path component", { image: "ghcr.io/a//b" }, "/body/image"],
      ["a host without a path", { image: "localhost:5000" }, "/body/image"],
      ["a numeric host disguise", { image: "0x7f.0.0.1/a/b" }, "/body/image"],
      ["a short digest", { image: "ghcr.io/a/b@sha256:abc" }, "/body/image"],
      ["an image id", { image: "a".repeat(64) }, "/body/image"],
      ["a tag starting with a dash", { image: "ghcr.io/a/b", tag: "-bad" }, "/body/tag"],
      ["a tag starting with a dot", { image: "ghcr.io/a/b", tag: ".bad" }, "/body/tag"],
      ["a tag with a slash", { image: "ghcr.io/a/b", tag: "v1/x" }, "/body/tag"],
      ["a tag with a colon", { image: "ghcr.io/a/b", tag: "v1:x" }, "/body/tag"],
    ])("%s → 422 naming the field, on create and on update", async (_label, fields, path) => {
      expectFieldError(await apiError(client.sandboxImages.create({ name: "bad ref", ...fields })), path);
      const existing = await client.sandboxImages.create({ name: "good ref", image: "ghcr.io/a/b", tag: "v1" });
      expectFieldError(await apiError(client.sandboxImages.update(existing.id, fields)), path);
      expect(await client.sandboxImages.get(existing.id)).toEqual(existing);
    });

    it("a tag in image is refused with a message that says where it goes", async () => {
      const err = await apiError(client.sandboxImages.create({ name: "tagged", image: "ghcr.io/a/b:tag" }));
      expect(err.problem?.errors?.[0]?.message).toMatch(/tag field/);
    });

    it("updating the tag or image re-derives the reference", async () => {
      const created = await client.sandboxImages.create({ name: "moving", image: "ubuntu" });
      expect((await client.sandboxImages.update(created.id, { tag: "24.04" })).reference).toBe("docker.io/library/ubuntu:24.04");
      expect((await client.sandboxImages.update(created.id, { image: "ghcr.io/o/ubuntu" })).reference).toBe("ghcr.io/o/ubuntu:24.04");
      expect((await client.sandboxImages.update(created.id, { image: `ghcr.io/o/ubuntu@${SHA256}` })).reference).toBe(`ghcr.io/o/ubuntu@${SHA256}`);
    });
  });

  // ─── Image ↔ registry host ───────────────────────────────────────────────────────────────

  describe("a linked registry must serve the image's host", () => {
    it.each([
      ["docker.io/library/ubuntu", "docker.io"],
      ["ubuntu", "docker.io"],
      ["quay.io/org/app", "quay.io"],
      ["ghcr.io:5000/org/app", "ghcr.io:5000"],
    ])("a ghcr.io registry and %s → 422 registry_host_mismatch naming both hosts", async (image, imageHost) => {
      const ghcr = await client.registries.create(registryBody());
      const err = await apiError(client.sandboxImages.create({ name: "mismatch", image, registry_id: ghcr.id }));
      expect(err.status).toBe(422);
      expect(err.code).toBe("registry_host_mismatch");
      expect(err.problem).toMatchObject({ image_host: imageHost, registry_server: "ghcr.io" });
      expect(err.problem?.errors).toEqual([{ path: "/body/registry_id", message: expect.any(String) }]);
      expect(err.detail).toContain(imageHost);
      expect(err.detail).toContain("ghcr.io");
    });

    it("Docker Hub's spellings are one registry, for the server and for the image", async () => {
      const images = ["ubuntu", "library/ubuntu", "docker.io/library/ubuntu", "index.docker.io/library/ubuntu", "registry-1.docker.io/library/ubuntu", "bitnami/redis"];
      for (const server of ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]) {
        const hub = await client.registries.create(registryBody({ server, password: `dckr_pat_${hex()}` }));
        for (const image of images) {
          const linked = await client.sandboxImages.create({ name: "hub", image, registry_id: hub.id });
          expect(linked.registry_id, `${server} ↔ ${image}`).toBe(hub.id);
        }
      }
    });

    it("the port is part of the host: registry.example.com:5000 serves only images on :5000", async () => {
      const selfHosted = await client.registries.create(registryBody({ server: "registry.example.com:5000", username: "robot" }));
      expect((await client.sandboxImages.create({ name: "ok", image: "registry.example.com:5000/team/app", registry_id: selfHosted.id })).registry_id).toBe(
        selfHosted.id,
      );
      const err = await apiError(client.sandboxImages.create({ name: "no port", image: "registry.example.com/team/app", registry_id: selfHosted.id }));
      expect(err.code).toBe("registry_host_mismatch");
      expect(err.problem).toMatchObject({ image_host: "registry.example.com", registry_server: "registry.example.com:5000" });
    });

    it("updates are checked too: a new image, a new registry, or both together", async () => {
      const ghcr = await client.registries.create(registryBody());
      const hub = await client.registries.create(registryBody({ server: "docker.io", password: `dckr_pat_${hex()}` }));
      const image = await client.sandboxImages.create({ name: "linked", image: "ghcr.io/org/app", registry_id: ghcr.id });

      expect((await apiError(client.sandboxImages.update(image.id, { image: "ubuntu" }))).code).toBe("registry_host_mismatch");
      expect((await apiError(client.sandboxImages.update(image.id, { registry_id: hub.id }))).code).toBe("registry_host_mismatch");
      expect(await client.sandboxImages.get(image.id)).toEqual(image);

      const moved = await client.sandboxImages.update(image.id, { image: "ubuntu", registry_id: hub.id });
      expect(moved).toMatchObject({ image: "ubuntu", registry_id: hub.id, registry_name: hub.name, reference: "docker.io/library/ubuntu:latest" });
      // Unlinked, any host is fine: a public image.
      expect((await client.sandboxImages.update(image.id, { image: "quay.io/org/app", registry_id: null })).registry_id).toBeNull();
    });
  });
});
