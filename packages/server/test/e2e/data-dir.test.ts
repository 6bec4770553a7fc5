/**
 * The embedded database's data directory, with real server processes: one process serves it
 * whatever happened to the previous one (kill -9, PID reuse, PID 1 in a container), two
 * processes started at the same instant never both serve it, and everything in it is private
 * to its owner.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ENTRY, SERVER_DIR } from "@modbox/testkit/processes";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const MAIN = ENTRY.server;
const NODE_ARGS = ["--import", "tsx", MAIN];
const BARRIER = fileURLToPath(new URL("./lock-barrier.mjs", import.meta.url));
const START_TIMEOUT_MS = 60_000;
// The lock-level race runs 40 rounds in data-dir-lock.test.ts; these prove it through whole servers.
const SAME_INSTANT_TRIALS = 6;

type Outcome = { kind: "serving"; url: string } | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null };

interface ServerRun {
  /** node itself, or `unshare` when the server runs as PID 1 of a new PID namespace. */
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once the server listens, or once it exits without listening. */
  outcome: Promise<Outcome>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The pid of the node process (as seen from here), once known. */
  serverPid: () => number | undefined;
}

/** Every process started here, killed by pid at the end of each test. */
const started = new Set<number>();

/**
 * Starts the real server on dataDir. pid1: as PID 1 of a new PID namespace (a container without
 * an init). barrierDir: its lock is bound when the test opens that barrier (see lock-barrier.mjs).
 */
function startServer(dataDir: string, options: { pid1?: boolean; barrierDir?: string } = {}): ServerRun {
  const nodeArgs = options.barrierDir === undefined ? NODE_ARGS : ["--import", "tsx", "--import", BARRIER, MAIN];
  const [command, args] = options.pid1
    ? ["unshare", ["--pid", "--fork", "--mount-proc", process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    cwd: SERVER_DIR,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      MODBOX_DATA_DIR: dataDir,
      ...(options.barrierDir !== undefined && { MODBOX_TEST_LOCK_BARRIER_DIR: options.barrierDir }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) started.add(child.pid);
  let stdout = "";
  let stderr = "";
  let innerPid: number | undefined;
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      if (child.pid !== undefined) started.delete(child.pid);
      resolve({ code, signal });
    }),
  );
  const outcome = new Promise<Outcome>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server neither started nor exited:\n${stderr}`)), START_TIMEOUT_MS);
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        if (options.pid1 && child.pid !== undefined) {
          innerPid = childrenOf(child.pid)[0];
          if (innerPid !== undefined) started.add(innerPid);
        }
        resolve({ kind: "serving", url: match[1]! });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      resolve({ kind: "exited", code, signal });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    outcome,
    exited,
    serverPid: () => (options.pid1 ? innerPid : child.pid),
  };
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync("cat", [`/proc/${pid}/task/${pid}/children`], { encoding: "utf8" })
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The process's pid in its innermost PID namespace (1 for the init of a container). */
async function innermostPid(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
  return Number(nspid?.at(-1));
}

async function killHard(run: ServerRun): Promise<void> {
  const pid = run.serverPid();
  if (pid !== undefined) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
    started.delete(pid);
  }
  await run.exited;
}

async function serves(outcome: Outcome): Promise<boolean> {
  if (outcome.kind !== "serving") return false;
  return (await fetch(`${outcome.url}/readyz`)).status === 200;
}

function killEverythingStarted(): void {
  for (const pid of started) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  started.clear();
}

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "modbox-datadir-"));
  dirs.push(root);
  return join(root, "data");
}

/**
 * A data directory whose database is already made: a copy of one made once per file (a new
 * directory, so a new lock of its own). PGlite's initdb costs seconds per fresh directory; the
 * lock is taken before the database is opened, so the race is the same.
 */
let template: Promise<string> | undefined;
async function initializedDir(): Promise<string> {
  template ??= (async () => {
    const dir = await freshDir();
    const run = startServer(dir);
    expect(await run.outcome, run.stderr()).toMatchObject({ kind: "serving" });
    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(0);
    return dir;
  })();
  const copy = await freshDir();
  await cp(await template, copy, { recursive: true });
  return copy;
}

afterEach(() => killEverythingStarted());
afterAll(async () => {
  killEverythingStarted();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** `unshare` can make a PID namespace here (we are root): required in CI, skipped with a warning locally. */
function pidNamespacesAvailable(): boolean {
  try {
    execFileSync("unshare", ["--pid", "--fork", "--mount-proc", "true"], { stdio: "ignore" });
    return true;
  } catch (err) {
    const message = `unshare --pid --fork --mount-proc does not work here (${(err as Error).message.split("\n")[0]})`;
    if (process.env.CI) throw new Error(`${message}: the PID 1 test cannot run in CI`);
    console.warn(`\n!! ${message}.\n!! The PID 1 data-directory test is SKIPPED (it needs root and util-linux's unshare).\n`);
    return false;
  }
}

describe("one process serves a data directory", () => {
  it.skipIf(!pidNamespacesAvailable())(
    "a server that ran as PID 1 and was killed with -9 is followed by the next PID 1",
    async () => {
      const dataDir = await freshDir();
      for (let round = 0; round < 3; round++) {
        const run = startServer(dataDir, { pid1: true });
        const outcome = await run.outcome;
        expect(outcome, `round ${round}:\n${run.stderr()}`).toMatchObject({ kind: "serving" });
        expect(await serves(outcome)).toBe(true);
        expect(await innermostPid(run.serverPid()!)).toBe(1);
        await killHard(run);
      }
    },
    240_000,
  );

  /**
   * Two servers on one directory, spawned in the same tick. Even trials as they are; odd trials
   * with both binds of the lock held to one instant (lock-barrier.mjs), the tightest race there is.
   */
  async function sameInstant(dataDir: string, trial: number): Promise<{ winner: ServerRun; loser: ServerRun; aligned: boolean }> {
    const barrierDir = trial % 2 === 1 ? await mkdtemp(join(tmpdir(), "modbox-barrier-")) : undefined;
    if (barrierDir) dirs.push(barrierDir);
    const pair = [startServer(dataDir, { barrierDir }), startServer(dataDir, { barrierDir })];
    if (barrierDir) await openBarrier(barrierDir, pair);
    const outcomes = await Promise.all(pair.map((run) => run.outcome));
    const detail = `trial ${trial}: ${JSON.stringify(outcomes)}\n${pair.map((r) => r.stderr()).join("\n")}`;
    expect(outcomes.filter((o) => o.kind === "serving").length, detail).toBe(1);
    const winner = pair[outcomes.findIndex((o) => o.kind === "serving")]!;
    const loser = pair[outcomes.findIndex((o) => o.kind === "exited")]!;
    expect(await serves((await winner.outcome) as Outcome)).toBe(true);
    expect((await loser.exited).code, detail).toBe(1);
    expect(loser.stderr(), detail).toContain(
      `modbox: The data directory ${dataDir} is in use by process ${winner.serverPid()} (modbox server) since `,
    );
    const aligned = barrierDir !== undefined && pair.every((run) => run.stderr().includes("lock-barrier: released"));
    if (barrierDir) expect(aligned, detail).toBe(true);
    return { winner, loser, aligned };
  }

  /** Once every process waits at the barrier, lets them all bind 50 ms from now. */
  async function openBarrier(barrierDir: string, runs: ServerRun[]): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exited = false;
    for (const run of runs) void run.exited.then(() => (exited = true));
    while ((await readdir(barrierDir)).filter((f) => f.endsWith(".ready")).length < runs.length) {
      if (exited || Date.now() > deadline) throw new Error(`a server never reached the barrier:\n${runs.map((r) => r.stderr()).join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await writeFile(join(barrierDir, "go.tmp"), String(Date.now() + 50));
    await rename(join(barrierDir, "go.tmp"), join(barrierDir, "go")); // never seen half-written
  }

  it(
    `two servers started at the same instant on one directory: exactly one serves (${SAME_INSTANT_TRIALS} trials, the first on a new directory)`,
    async () => {
      let aligned = 0;
      for (let trial = 0; trial < SAME_INSTANT_TRIALS; trial++) {
        const dataDir = trial === 0 ? await freshDir() : await initializedDir();
        const result = await sameInstant(dataDir, trial);
        if (result.aligned) aligned++;
        await killHard(result.winner);
        await rm(dataDir, { recursive: true, force: true });
      }
      console.log(
        `[data-dir] same instant: ${SAME_INSTANT_TRIALS} trials, exactly one server each; ` +
          `${aligned} of ${Math.floor(SAME_INSTANT_TRIALS / 2)} with both binds of the lock released at one instant`,
      );
    },
    600_000,
  );

  it("after kill -9, two servers starting at the same instant: one serves; an older version's pid file is removed", async () => {
    const dataDir = await freshDir();
    const first = startServer(dataDir);
    expect(await serves(await first.outcome)).toBe(true);
    await killHard(first);

    // An older version's pid file, naming a live process (this one): it no longer decides anything.
    await writeFile(join(dataDir, "LOCK"), `${process.pid}\nmodbox server\n`);
    for (let trial = 0; trial < 4; trial++) {
      const { winner } = await sameInstant(dataDir, trial);
      await expect(lstat(join(dataDir, "LOCK"))).rejects.toMatchObject({ code: "ENOENT" });
      await killHard(winner);
    }
  }, 240_000);
});

/** Every entry under dir (dir included) whose mode is not 0700 (directories) or 0600 (files). */
async function looseEntries(dir: string): Promise<string[]> {
  const loose: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await lstat(path);
    const mode = info.mode & 0o777;
    if (info.isDirectory()) {
      if (mode !== 0o700) loose.push(`${path} ${mode.toString(8)}`);
      for (const name of await readdir(path)) await walk(join(path, name));
    } else if (mode !== 0o600) {
      loose.push(`${path} ${mode.toString(8)}`);
    }
  };
  await walk(dir);
  return loose;
}

describe("the data directory is private to its owner", () => {
  it("after a real start on a fresh directory, every entry is 0700 (directories) or 0600 (files)", async () => {
    const dataDir = await freshDir();
    const run = startServer(dataDir);
    const outcome = await run.outcome;
    expect(outcome, run.stderr()).toMatchObject({ kind: "serving" });
    // Let the database write something after start-up too (a registry, through the first token).
    const token = /(mbx_[A-Za-z0-9_-]{40})/.exec(run.stderr())![1]!;
    const url = (outcome as { url: string }).url;
    const created = await fetch(`${url}/registries`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-workspace-id": "acme", "content-type": "application/json" },
      body: JSON.stringify({ name: "r", server: "ghcr.io", username: "u", password: "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }),
    });
    expect(created.status).toBe(201);
    expect(await looseEntries(dataDir)).toEqual([]);
    expect(run.stdout()).not.toContain("Tightened");
    await killHard(run);
  }, 120_000);

  it("a directory left readable by others is tightened at start, with one warning", async () => {
    const dataDir = await freshDir();
    await mkdir(join(dataDir, "pglite-old", "sub"), { recursive: true });
    await writeFile(join(dataDir, "pglite-old", "sub", "file"), "x");
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, "pglite-old"), 0o777);
    await chmod(join(dataDir, "pglite-old", "sub", "file"), 0o666);

    const run = startServer(dataDir);
    const outcome = await run.outcome;
    expect(outcome, run.stderr()).toMatchObject({ kind: "serving" });
    expect(await looseEntries(dataDir)).toEqual([]);
    const warnings = run
      .stdout()
      .split("\n")
      .filter((line) => line.includes("Tightened"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, dataDir, tightened: 4 });
    await killHard(run);
  }, 120_000);
});
