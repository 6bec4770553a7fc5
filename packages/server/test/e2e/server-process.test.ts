/**
 * The README's `npm start`, as a user runs it: a real process on the embedded database, the
 * seed page walked over HTTP, SIGTERM, and a restart on the same data directory.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killStartedProcesses, runToExit, startServerProcess, type ServerProcess } from "@modbox/testkit/processes";
import { walkSeedPage } from "@modbox/testkit/seed-page";
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
    const walk = await walkSeedPage(first.url, token!);
    const logs = first.stdout();
    for (const secret of walk.secrets) {
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
