/**
 * The README's `npm start`, as a user runs it: a real process on the embedded database, the
 * seed page walked over HTTP, SIGTERM, and a restart on the same data directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
// `node --import tsx` (what `npm start` runs) keeps one process, so SIGTERM reaches our handler
// directly rather than through tsx's signal relay.
const NODE_ARGS = ["--import", "tsx", MAIN];
const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  stdout: string[];
  stderr: string[];
}

function startProcess(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, NODE_ARGS, {
    cwd: SERVER_DIR,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr.join("")}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      stdout.push(d.toString());
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout.join(""));
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, stdout, stderr });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stderr.join("")}`));
    });
  });
}

function stopProcess(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, NODE_ARGS, { cwd: SERVER_DIR, env: { PATH: process.env.PATH ?? "", PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

describe("the server process on the embedded database", () => {
  let dataDir: string;
  let first: Started;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modbox-e2e-"));
    first = await startProcess({ MODBOX_DATA_DIR: dataDir });
  });
  afterAll(async () => {
    if (first) await stopProcess(first.child);
    await rm(dataDir, { recursive: true, force: true });
  });

  it("generates an encryption key file readable by its owner only", async () => {
    const file = join(dataDir, "encryption-keys");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, "utf8")).trim()).toMatch(/^[A-Za-z0-9_-]+:[A-Za-z0-9+/]{43}=$/);
    expect(first.stdout.join("")).not.toContain((await readFile(file, "utf8")).trim().split(":")[1]);
  });

  it("prints a first token once, and the seed page works with it", async () => {
    const token = /(mbx_[A-Za-z0-9_-]{40})/.exec(first.stderr.join(""))?.[1];
    expect(token).toBeDefined();
    expect(first.stdout.join("")).not.toContain(token!);
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

    const logs = first.stdout.join("");
    for (const secret of ["ghp_your_personal_access_token", "new_token_here", "ghp_your_bot_token", token!]) {
      expect(logs).not.toContain(secret);
    }
  });

  it("refuses a second process on the same data directory", async () => {
    const second = await runToExit({ MODBOX_DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("is in use by process");
  });

  it("stops cleanly on SIGTERM and restarts on the same data without a new token", async () => {
    expect(await stopProcess(first.child)).toBe(0);
    const again = await startProcess({ MODBOX_DATA_DIR: dataDir });
    try {
      expect(again.stderr.join("")).not.toContain("mbx_");
      const health = await fetch(`${again.url}/readyz`);
      expect(health.status).toBe(200);
    } finally {
      expect(await stopProcess(again.child)).toBe(0);
    }
  });
});

describe("start-up refuses bad configuration, without echoing secrets", () => {
  it("DATABASE_URL without MODBOX_ENCRYPTION_KEYS", async () => {
    const { code, stderr } = await runToExit({ DATABASE_URL: "postgres://u:secretpw@127.0.0.1:1/db" });
    expect(code).toBe(1);
    expect(stderr).toContain("MODBOX_ENCRYPTION_KEYS");
    expect(stderr).not.toContain("secretpw");
  });

  it("a malformed key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modbox-e2e-"));
    try {
      const { code, stderr } = await runToExit({ MODBOX_DATA_DIR: dir, MODBOX_ENCRYPTION_KEYS: "k1:c2hvcnQta2V5LW1hdGVyaWFs" });
      expect(code).toBe(1);
      expect(stderr).toContain("Invalid encryption keys");
      expect(stderr).not.toContain("c2hvcnQta2V5LW1hdGVyaWFs");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
