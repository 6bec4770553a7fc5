/**
 * A full disk is an answer, not a hang: the real server process on a small tmpfs, filled through
 * its API until writes fail, then freed.
 *
 * - Embedded database, guard on: writes answer 503 before PGlite ever meets ENOSPC; reads,
 *   /healthz and /readyz keep answering; writes succeed again once space is freed; SIGTERM exits 0.
 * - Embedded database, guard off: PGlite's write-ahead log cannot grow (PANIC 53100). The write
 *   answers 503, the process exits 1 on its own with "the disk under <dir> is full: …", never
 *   hanging; a start on the still-full disk is refused with the same words; once freed, it starts
 *   with every acknowledged write and nothing else.
 * - PostgreSQL 15 with the database in a tablespace on the tmpfs: 53100 answers 503, reads go on,
 *   writes come back when space does.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Without it these tests warn and skip locally; in CI
 * (CI=true) they fail. Every mount is unmounted and every process stopped by pid, also when the
 * run is cut short (process "exit" hooks).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatKeyringSpec, generateKey } from "@modbox/crypto";
import postgres from "postgres";
import { ENTRY, SERVER_DIR } from "@modbox/testkit/processes";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateApiToken } from "../../src/auth/api-token.js";
import {
  postgresBinariesAvailable,
  startPostgresServer,
  type PostgresServer,
} from "@modbox/testkit/postgres";

const MAIN = ENTRY.server;
const MIB = 1024 * 1024;
const CI = Boolean(process.env.CI);

// ---------------------------------------------------------------------------------------------
// Can we mount a tmpfs here? Probed in a private mount namespace, so the probe leaves nothing.

function tmpfsUnavailableReason(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "modbox-tmpfs-probe-"));
  try {
    const probe = spawnSync("unshare", ["--mount", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], {
      encoding: "utf8",
      timeout: 10_000,
    });
    if (probe.error) return `cannot run unshare/mount (${probe.error.message})`;
    if (probe.status !== 0) return `cannot mount a tmpfs (${(probe.stderr || `exit ${probe.status}`).trim()}): run as root`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const noTmpfs = tmpfsUnavailableReason();
if (noTmpfs && !CI) {
  console.warn(
    ["", "!".repeat(78), `!! disk-full tests SKIPPED: ${noTmpfs}.`, "!! They fill a real tmpfs and need root; CI runs them.", "!".repeat(78), ""].join("\n"),
  );
}
const skipAll = Boolean(noTmpfs) && !CI;
const skipPostgres = skipAll || (!postgresBinariesAvailable() && !CI);

function requireTmpfs(): void {
  if (noTmpfs) throw new Error(`the disk-full tests cannot run in CI: ${noTmpfs}`);
}

// ---------------------------------------------------------------------------------------------
// Mounts, ballast, processes: everything is undone by pid or by path.

interface Tmpfs {
  dir: string;
  unmount(): void;
}

const mounts = new Set<Tmpfs>();

function mountTmpfs(sizeMiB: number, owner?: { uid: number; gid: number }): Tmpfs {
  requireTmpfs();
  const dir = mkdtempSync(join(tmpdir(), "modbox-disk-full-"));
  const options = [`size=${sizeMiB}m`, "mode=0700", ...(owner ? [`uid=${owner.uid}`, `gid=${owner.gid}`] : [])].join(",");
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
  const mount: Tmpfs = {
    dir,
    unmount() {
      if (!mounts.delete(mount)) return;
      process.off("exit", mount.unmount);
      // Lazy as a last resort (a process still holding a file): detached at once either way.
      if (spawnSync("umount", [dir]).status !== 0) spawnSync("umount", ["-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  mounts.add(mount);
  process.once("exit", mount.unmount);
  return mount;
}

function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Writes a file of zeros so that about `leave` bytes stay free; returns its path. */
function fillDiskLeaving(dir: string, leave: number): string {
  const path = join(dir, `ballast-${randomBytes(4).toString("hex")}`);
  let remaining = freeBytes(dir) - leave;
  const chunk = Buffer.alloc(MIB);
  const fd = openSync(path, "w");
  try {
    while (remaining > 0) {
      const n = Math.min(remaining, chunk.length);
      writeSync(fd, chunk, 0, n);
      remaining -= n;
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

const children = new Set<ChildProcess>();

interface ServerProcess {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function spawnServer(env: Record<string, string>): { child: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    cwd: SERVER_DIR,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", HOST: "127.0.0.1", MODBOX_RATE_LIMIT_PER_MINUTE: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  // "close", not "exit": by then every byte it wrote to stdout and stderr has reached us.
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, out, exited };
}

async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const { child, out, exited } = spawnServer(env);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out.stdout)?.[1];
    if (url) return { child, url, stdout: () => out.stdout, stderr: () => out.stderr, exited };
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before listening:\n${out.stderr}`);
    if (Date.now() > deadline) throw new Error(`the server did not start within 60 s:\n${out.stderr}`);
    await sleep(50);
  }
}

/** Whether the server's stdout shows `pattern` within `timeoutMs`. */
async function waitForOutput(server: ServerProcess, pattern: RegExp, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.stdout())) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Runs the server to its exit (a refused start); SIGKILL after `timeoutMs`, which fails the test. */
async function runToExit(env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stderr: string; ms: number }> {
  const startedAt = Date.now();
  const { child, out, exited } = spawnServer(env);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr: out.stderr, ms: Date.now() - startedAt };
}

/** SIGTERM, then the exit code; a process still running after `timeoutMs` is killed and fails. */
async function stopServer(server: ServerProcess, timeoutMs = 15_000): Promise<number | null | "ignored SIGTERM"> {
  if (server.child.exitCode !== null) return server.child.exitCode;
  server.child.kill("SIGTERM");
  const code = await Promise.race([server.exited, sleep(timeoutMs).then(() => "ignored SIGTERM" as const)]);
  if (code === "ignored SIGTERM") server.child.kill("SIGKILL");
  return code;
}

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  for (const mount of [...mounts]) mount.unmount();
});

// ---------------------------------------------------------------------------------------------
// HTTP: every call bounded; a call that times out is a hang, and fails the test.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if ((err as Error).name === "TimeoutError") {
      throw new Error(`${init.method ?? "GET"} ${new URL(url).pathname} did not answer within ${timeoutMs} ms: the server hangs`);
    }
    throw err;
  }
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function api(server: ServerProcess, token: string) {
  const headers = { authorization: `Bearer ${token}`, "x-workspace-id": "disk-full", "content-type": "application/json" };
  return {
    post: (name: string, password = randomBytes(6144).toString("base64")) =>
      call(`${server.url}/registries`, { method: "POST", headers, body: JSON.stringify({ name, server: "ghcr.io", username: "u", password }) }),
    put: (id: string) => call(`${server.url}/registries/${id}`, { method: "PUT", headers, body: JSON.stringify({ username: "v" }) }),
    remove: (id: string) => call(`${server.url}/registries/${id}`, { method: "DELETE", headers }),
    get: (id: string) => call(`${server.url}/registries/${id}`, { headers }),
    /** Every stored registry name, page by page. */
    async names(): Promise<Set<string>> {
      const names = new Set<string>();
      let cursor: string | null = null;
      for (let page = 0; page < 100; page++) {
        const answer = await call(`${server.url}/registries?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers });
        expect(answer.status).toBe(200);
        for (const r of answer.body.data as Array<{ name: string }>) names.add(r.name);
        cursor = answer.body.next_cursor as string | null;
        if (!cursor) return names;
      }
      throw new Error("more than 100 pages of registries");
    },
  };
}

type Api = ReturnType<typeof api>;

interface Filled {
  /** name → id of every write answered 201. */
  acknowledged: Map<string, string>;
  /** The first write not answered 201, if any within `max`, and the password it carried. */
  refused?: Answer & { name: string; password: string };
}

/**
 * Creates registries (≈ 11 KB of ciphertext each) one at a time until one is not answered 201,
 * `until()` holds, or `max` writes. Anything but 201 or 503 fails: never a 500.
 */
async function fill(client: Api, prefix: string, max: number, until: () => boolean = () => false): Promise<Filled> {
  const acknowledged = new Map<string, string>();
  for (let i = 0; i < max && !until(); i++) {
    const name = `${prefix}-${i}`;
    const password = randomBytes(6144).toString("base64");
    const answer = await client.post(name, password);
    if (answer.status === 201) {
      acknowledged.set(name, answer.body.id as string);
      continue;
    }
    expect([503], `write ${name} answered ${answer.status}: ${JSON.stringify(answer.body)}`).toContain(answer.status);
    return { acknowledged, refused: { ...answer, name, password } };
  }
  return { acknowledged };
}

function expectDiskFullAnswer(answer: Answer | undefined): void {
  expect(answer).toBeDefined();
  expect(answer!.status).toBe(503);
  expect(answer!.retryAfter).toBe("30");
  expect(answer!.body).toMatchObject({ code: "service_unavailable", detail: expect.stringMatching(/storage is full/) });
}

const firstToken = (stderr: string) => /(mbx_[A-Za-z0-9_-]{40})/.exec(stderr)?.[1];

// ---------------------------------------------------------------------------------------------

describe.skipIf(skipAll)("a full disk under the embedded database (real process, tmpfs)", () => {
  let tmpfs: Tmpfs | undefined;
  afterEach(() => {
    for (const child of children) child.kill("SIGKILL");
    tmpfs?.unmount();
    tmpfs = undefined;
  });

  it("refuses writes with 503 below MODBOX_MIN_FREE_DISK_MB, keeps reading, and writes again once space is freed", { timeout: 240_000 }, async () => {
    tmpfs = mountTmpfs(96);
    const dataDir = join(tmpfs.dir, "data");
    const server = await startServer({ MODBOX_DATA_DIR: dataDir, MODBOX_MIN_FREE_DISK_MB: "24" });
    const client = api(server, firstToken(server.stderr())!);

    // A few MiB above the minimum: the guard must trip before the database meets the disk's end.
    const ballast = fillDiskLeaving(tmpfs.dir, 30 * MIB);
    const { acknowledged, refused } = await fill(client, "guarded", 3000);
    expect(acknowledged.size).toBeGreaterThan(0);
    expectDiskFullAnswer(refused);
    // Refused with a write-ahead-log segment of room to spare: PGlite never reached ENOSPC.
    expect(freeBytes(tmpfs.dir)).toBeGreaterThan(16 * MIB);

    const [someName, someId] = [...acknowledged][0]!;
    expectDiskFullAnswer(await client.put(someId));
    expectDiskFullAnswer(await client.remove(someId));
    expect((await call(`${server.url}/healthz`)).status).toBe(200);
    expect((await call(`${server.url}/readyz`)).status).toBe(200);
    expect((await client.get(someId)).body).toMatchObject({ name: someName, username: "u" });
    // Exactly what was acknowledged: the refused write left nothing behind.
    expect(await client.names()).toEqual(new Set(acknowledged.keys()));

    rmSync(ballast);
    const freedAt = Date.now();
    let again: Answer | undefined;
    for (let attempt = 0; attempt < 40 && again?.status !== 201; attempt++) {
      if (attempt > 0) await sleep(250);
      again = await client.post(`after-${attempt}`);
    }
    expect(again!.status).toBe(201);
    expect(Date.now() - freedAt).toBeLessThan(5_000);

    expect(await stopServer(server)).toBe(0);
    expect(server.stdout()).toContain("refusing writes (503) until space is freed");
    expect(server.stdout()).toContain("accepting writes again");
    expect(server.stdout()).not.toContain(refused!.password.slice(0, 40));
  });

  it(
    "exits 1 with 'the disk under <dir> is full' when the write-ahead log cannot grow, never hanging; restarts with every acknowledged write once freed",
    { timeout: 420_000 },
    async () => {
      tmpfs = mountTmpfs(128);
      const dataDir = join(tmpfs.dir, "data");
      const env = { MODBOX_DATA_DIR: dataDir, MODBOX_MIN_FREE_DISK_MB: "0" };
      const server = await startServer(env);
      const token = firstToken(server.stderr())!;
      const client = api(server, token);

      // Write until PostgreSQL starts a new 16 MiB WAL segment: from there, about 16 MiB of WAL
      // (and as much data) comes before it needs the next one.
      const walDir = join(dataDir, "pglite", "pg_wal");
      const segments = () => readdirSync(walDir).filter((f) => /^[0-9A-F]{24}$/.test(f)).length;
      const initialSegments = segments();
      const warmUp = await fill(client, "warm", 5000, () => segments() > initialSegments);
      expect(warmUp.refused).toBeUndefined();
      expect(segments()).toBeGreaterThan(initialSegments);

      // Room for that data, but not for the next segment as well.
      const ballast = [fillDiskLeaving(tmpfs.dir, 24 * MIB)];
      const full = await fill(client, "full", 5000);
      expectDiskFullAnswer(full.refused);
      const acknowledged = new Set([...warmUp.acknowledged.keys(), ...full.acknowledged.keys()]);

      // It goes by itself, answering (or refusing connections) until then: no call may hang.
      // The loop is bounded by the same 20 s; the statuses are checked after it, outside the
      // try, whose catch would otherwise swallow a failed assertion.
      const exitedWithin = Promise.race([server.exited, sleep(20_000).then(() => "still running" as const)]);
      const giveUpAt = Date.now() + 20_000;
      let gone = false;
      void server.exited.then(() => (gone = true));
      const healthStatuses: number[] = [];
      while (!gone && Date.now() < giveUpAt) {
        try {
          healthStatuses.push((await call(`${server.url}/healthz`, {}, 3_000)).status);
        } catch (err) {
          if ((err as Error).message.includes("the server hangs")) throw err;
          // ECONNREFUSED / reset: closing or gone.
        }
        await sleep(100);
      }
      expect(healthStatuses.filter((status) => status !== 200), "/healthz while the server goes").toEqual([]);
      expect(await exitedWithin).toBe(1);
      const stderr = server.stderr();
      expect(stderr).toContain(`modbox: the disk under ${dataDir} is full: the embedded database could not write (PANIC, SQLSTATE 53100`);
      expect(stderr).toContain("Free space on that disk, then start the server again");
      expect(server.stdout()).toMatch(/"level":60[^\n]*"severity":"PANIC"[^\n]*"sqlstate":"53100"/);
      // SQLSTATEs only: never the driver's message, never a value.
      expect(server.stdout() + stderr).not.toContain("No space left on device");
      expect(server.stdout() + stderr).not.toContain(full.refused!.password.slice(0, 40));

      // Still full: a start is refused at once, in the same words, not hung.
      ballast.push(fillDiskLeaving(tmpfs.dir, 1 * MIB));
      const refusedStart = await runToExit(env, 60_000);
      expect(refusedStart.code).toBe(1);
      expect(refusedStart.stderr).toContain(`modbox: the disk under ${dataDir} is full: the embedded database cannot start.`);

      // Freed: PostgreSQL's recovery replays the log; every acknowledged write is there, the
      // refused one is not, and writes work.
      for (const path of ballast) rmSync(path);
      const restarted = await startServer(env);
      const after = api(restarted, token);
      expect(await after.names()).toEqual(acknowledged);
      expect(acknowledged.has(full.refused!.name)).toBe(false);
      expect((await after.post("after-restart")).status).toBe(201);
      expect(await stopServer(restarted)).toBe(0);
    },
  );
});

// ---------------------------------------------------------------------------------------------

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

describe.skipIf(skipPostgres)("a full disk under PostgreSQL 15 (real process, a tablespace on tmpfs)", () => {
  let pg: PostgresServer | undefined;
  let tmpfs: Tmpfs | undefined;
  afterEach(async () => {
    for (const child of children) child.kill("SIGKILL");
    // PostgreSQL first: it holds the tablespace's files open.
    await pg?.stop();
    tmpfs?.unmount();
  });

  it("answers 503 on SQLSTATE 53100, keeps reading, and writes again once space is freed", { timeout: 180_000 }, async () => {
    pg = await startPostgresServer();
    const owner = postgresUser();
    tmpfs = mountTmpfs(24, owner);
    const tablespaceDir = join(tmpfs.dir, "tablespace");
    mkdirSync(tablespaceDir);
    if (owner) chownSync(tablespaceDir, owner.uid, owner.gid);
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`CREATE TABLESPACE modbox_small LOCATION '${tablespaceDir}'`);
      await admin.unsafe("CREATE DATABASE modbox_disk TABLESPACE modbox_small");
    } finally {
      await admin.end({ timeout: 5 });
    }
    const url = new URL(pg.url);
    url.pathname = "/modbox_disk";
    const token = generateApiToken();
    const server = await startServer({
      DATABASE_URL: url.toString(),
      MODBOX_ENCRYPTION_KEYS: formatKeyringSpec([generateKey()]),
      MODBOX_BOOTSTRAP_TOKEN: token,
    });
    const client = api(server, token);

    const ballast = fillDiskLeaving(tmpfs.dir, 2 * MIB);
    const { acknowledged, refused } = await fill(client, "pg", 3000);
    expect(acknowledged.size).toBeGreaterThan(0);
    expectDiskFullAnswer(refused);
    // The log line of the refusal, which may reach the pipe after the answer reached us.
    expect(await waitForOutput(server, /"sqlstate":"53100"[^\n]*"name":"DatabaseDiskFull"/)).toBe(true);
    // SQLSTATEs only: never the driver's message (it names files and lists the bound parameters).
    expect(server.stdout()).not.toMatch(/could not extend file|No space left on device/);
    expect(server.stdout()).not.toContain(refused!.password.slice(0, 40));

    expect((await call(`${server.url}/healthz`)).status).toBe(200);
    expect((await call(`${server.url}/readyz`)).status).toBe(200);
    expect(await client.names()).toEqual(new Set(acknowledged.keys()));

    rmSync(ballast);
    const written = await client.post("after-freeing");
    expect(written.status).toBe(201);
    expect(await stopServer(server)).toBe(0);
  });
});
