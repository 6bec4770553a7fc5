/**
 * The README's `npm start`, as a user runs it: a real process on the embedded database, the
 * seed page walked over HTTP, SIGTERM, and a restart on the same data directory.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killStartedProcesses, runToExit, startServerProcess, type ServerProcess } from "@modbox/testkit/processes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("the server process on the embedded database", () => {
  let dataDir: string;
  let first: ServerProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modbox-e2e-"));
    first = await startServerProcess({ MODBOX_DATA_DIR: dataDir });
  });
  afterAll(async () => {
    if (first) await first.stop();
    await killStartedProcesses();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("generates an encryption key file readable by its owner only", async () => {
    const file = join(dataDir, "encryption-keys");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, "utf8")).trim()).toMatch(/^[A-Za-z0-9_-]+:[A-Za-z0-9+/]{43}=$/);
    expect(first.stdout()).not.toContain((await readFile(file, "utf8")).trim().split(":")[1]);
  });

  it("prints a first token once, and the seed page works with it", async () => {
    const token = /(mbx_[A-Za-z0-9_-]{40})/.exec(first.stderr())?.[1];
    expect(token).toBeDefined();
    expect(first.stdout()).not.toContain(token!);
    const headers = { authorization: `Bearer ${token}`, "x-workspace-id": "your-workspace-id", "content-type": "application/json" };

    const created = await fetch(`${first.url}/registries`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        name: "GitHub Container Registry",
        server: "ghcr.io",
        username: "your-github-username",
        password: "ghp_your_personal_access_token",
        email: "you@yourcompany.com",
      }),
    });
    expect(created.status).toBe(201);
    const registry = (await created.json()) as { id: string };

    const list = await fetch(`${first.url}/registries`, { headers });
    const listText = await list.text();
    expect(list.status).toBe(200);
    expect(listText).not.toContain("ghp_your_personal_access_token");

    const image = await fetch(`${first.url}/sandbox-images`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "Our Private App", image: "ghcr.io/your-org/your-image", tag: "latest", registry_id: registry.id }),
    });
    expect(image.status).toBe(201);
    const linked = (await image.json()) as { id: string; registry_name: string; reference: string };
    expect(linked).toMatchObject({ registry_name: "GitHub Container Registry", reference: "ghcr.io/your-org/your-image:latest" });

    const rotated = await fetch(`${first.url}/registries/${registry.id}`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ password: "new_token_here" }),
    });
    expect(rotated.status).toBe(200);

    // "Deleting a registry will cause any images linked to it to fail to pull. Update the linked
    // images to use a different registry first." The server holds the user to it: the delete is
    // refused while the image is linked, and names the image to update.
    const refused = await fetch(`${first.url}/registries/${registry.id}`, { method: "DELETE", headers });
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await refused.json()).toEqual({
      type: "https://modbox.dev/problems/registry_in_use",
      title: "Conflict",
      status: 409,
      code: "registry_in_use",
      detail: expect.any(String),
      instance: `/registries/${registry.id}`,
      request_id: refused.headers.get("x-request-id"),
      linked_image_ids: [linked.id],
      linked_image_count: 1,
    });
    expect((await fetch(`${first.url}/registries/${registry.id}`, { headers })).status).toBe(200);

    // Following the seed page: link the image to a different registry, then delete.
    const replacement = await fetch(`${first.url}/registries`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        name: "GitHub Container Registry (bot)",
        server: "ghcr.io",
        username: "your-github-bot",
        password: "ghp_your_bot_token",
      }),
    });
    expect(replacement.status).toBe(201);
    const replacementId = ((await replacement.json()) as { id: string }).id;
    const relinked = await fetch(`${first.url}/sandbox-images/${linked.id}`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ registry_id: replacementId }),
    });
    expect(relinked.status).toBe(200);
    expect(await relinked.json()).toMatchObject({ registry_id: replacementId, registry_name: "GitHub Container Registry (bot)" });

    const deleted = await fetch(`${first.url}/registries/${registry.id}`, { method: "DELETE", headers });
    expect(deleted.status).toBe(204);
    expect((await fetch(`${first.url}/registries/${registry.id}`, { headers })).status).toBe(404);

    const logs = first.stdout();
    for (const secret of ["ghp_your_personal_access_token", "new_token_here", "ghp_your_bot_token", token!]) {
      expect(logs).not.toContain(secret);
    }
  });

  it("refuses a second process on the same data directory", async () => {
    const second = await runToExit("server", [], { MODBOX_DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("is in use by process");
  });

  it("stops cleanly on SIGTERM and restarts on the same data without a new token", async () => {
    expect(await first.stop()).toBe(0);
    const again = await startServerProcess({ MODBOX_DATA_DIR: dataDir });
    try {
      expect(again.stderr()).not.toContain("mbx_");
      const health = await fetch(`${again.url}/readyz`);
      expect(health.status).toBe(200);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });
});

describe("start-up refuses bad configuration, without echoing secrets", () => {
  it("DATABASE_URL without MODBOX_ENCRYPTION_KEYS", async () => {
    const { code, stderr } = await runToExit("server", [], { DATABASE_URL: "postgres://u:secretpw@127.0.0.1:1/db" });
    expect(code).toBe(1);
    expect(stderr).toContain("MODBOX_ENCRYPTION_KEYS");
    expect(stderr).not.toContain("secretpw");
  });

  it("a malformed key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modbox-e2e-"));
    try {
      const { code, stderr } = await runToExit("server", [], { MODBOX_DATA_DIR: dir, MODBOX_ENCRYPTION_KEYS: "k1:c2hvcnQta2V5LW1hdGVyaWFs" });
      expect(code).toBe(1);
      expect(stderr).toContain("Invalid encryption keys");
      expect(stderr).not.toContain("c2hvcnQta2V5LW1hdGVyaWFs");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
