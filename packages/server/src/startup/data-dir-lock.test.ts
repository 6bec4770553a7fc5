import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir, lockDataDirWith, type LockSocketKind } from "./data-dir-lock.js";

const MODULE = fileURLToPath(new URL("./data-dir-lock.ts", import.meta.url));

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "modbox-lock-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every child started here, killed by pid at the end. */
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** A node process running `body` with `lockDataDirWith` and `DataDirLockedError` in scope. */
function runNode(body: string): { child: ChildProcess; lines: AsyncIterator<string>; exited: Promise<number | null> } {
  const script = `import { lockDataDirWith, DataDirLockedError } from ${JSON.stringify(MODULE)};\n${body}`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  const exited = once(child, "exit").then(([code]) => {
    children.delete(child);
    return code as number | null;
  });
  return { child, lines: lineReader(child), exited };
}

function lineReader(child: ChildProcess): AsyncIterator<string> {
  let buffered = "";
  const queue: string[] = [];
  const waiters: ((line: IteratorResult<string>) => void)[] = [];
  let ended = false;
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const waiter = waiters.shift();
      if (waiter) waiter({ value: line, done: false });
      else queue.push(line);
    }
  });
  child.stdout!.on("end", () => {
    ended = true;
    for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true });
  });
  return {
    next: () =>
      new Promise((resolve) => {
        const line = queue.shift();
        if (line !== undefined) resolve({ value: line, done: false });
        else if (ended) resolve({ value: undefined, done: true });
        else waiters.push(resolve);
      }),
  };
}

/** A child that takes the lock, says "locked", and stays alive until killed. */
async function childHoldingLock(dataDir: string, kind: LockSocketKind): Promise<ChildProcess> {
  const { child, lines } = runNode(
    `await lockDataDirWith(${JSON.stringify(dataDir)}, "lock test child", ${JSON.stringify(kind)});\n` +
      `console.log("locked"); setInterval(() => {}, 60_000);`,
  );
  expect((await lines.next()).value).toBe("locked");
  return child;
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirLockedError);
  return (err as Error).message;
}

describe("lockDataDir (Linux: an abstract Unix socket named after the directory)", () => {
  it.runIf(process.platform === "linux")("binds \\0modbox-registries/<dev>:<ino>, leaving nothing in the directory", async () => {
    const dataDir = join(root, "data");
    const release = await lockDataDir(dataDir, "modbox server");
    const { dev, ino } = await stat(dataDir, { bigint: true });
    expect(await readFile("/proc/net/unix", "utf8")).toContain(`@modbox-registries/${dev}:${ino}`);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    await release();
    expect(await readFile("/proc/net/unix", "utf8")).not.toContain(`@modbox-registries/${dev}:${ino}`);
  });

  it("refuses a second lock, naming the holder's pid, purpose and start, until released", async () => {
    const dataDir = join(root, "data");
    const release = await lockDataDir(dataDir, "modbox server");
    const message = await refusal(lockDataDir(dataDir, "modbox tokens cli"));
    expect(message).toMatch(
      new RegExp(
        `^The data directory ${dataDir} is in use by process ${process.pid} \\(modbox server\\) since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\. ` +
          "The embedded database serves one process at a time: stop it first, or use PostgreSQL \\(DATABASE_URL\\)\\.$",
      ),
    );
    await release();
    await release(); // releasing twice is harmless
    const again = await lockDataDir(dataDir, "modbox tokens cli");
    await again();
  });

  it("is the same lock through another path to the directory (a symlink, a rename)", async () => {
    const dataDir = join(root, "data");
    const release = await lockDataDir(dataDir, "modbox server");
    await symlink(dataDir, join(root, "link"));
    expect(await refusal(lockDataDir(join(root, "link"), "other"))).toContain(`process ${process.pid} (modbox server)`);
    await rename(dataDir, join(root, "moved"));
    expect(await refusal(lockDataDir(join(root, "moved"), "other"))).toContain(`process ${process.pid} (modbox server)`);
    await release();
  });

  it("takes over the lock of a process killed with -9 (the kernel released it)", async () => {
    const dataDir = join(root, "data");
    const child = await childHoldingLock(dataDir, "abstract");
    expect(await refusal(lockDataDir(dataDir, "modbox server"))).toContain(
      `is in use by process ${child.pid} (lock test child) since `,
    );
    await killHard(child);
    const release = await lockDataDir(dataDir, "modbox server");
    await release();
  });

  it("names the holder even while the holder's main thread is busy (PGlite runs synchronously for seconds at a start)", async () => {
    const dataDir = join(root, "data");
    const { child, lines } = runNode(
      `await lockDataDirWith(${JSON.stringify(dataDir)}, "busy holder", "abstract"); console.log("locked");\n` +
        "const until = Date.now() + 20_000; while (Date.now() < until) {} // the event loop never turns",
    );
    expect((await lines.next()).value).toBe("locked");
    expect(await refusal(lockDataDir(dataDir, "modbox server"))).toContain(`is in use by process ${child.pid} (busy holder) since `);
    await killHard(child);
  });

  it("removes an older version's pid file, even one naming a live process", async () => {
    const dataDir = join(root, "data");
    const first = await lockDataDir(dataDir, "modbox server");
    await first();
    await writeFile(join(dataDir, "LOCK"), `${process.pid}\nmodbox server\n`);
    const release = await lockDataDir(dataDir, "modbox server");
    await expect(stat(join(dataDir, "LOCK"))).rejects.toMatchObject({ code: "ENOENT" });
    await release();
  });

  it.runIf(process.platform === "linux")("refuses, as held by an unknown process, when the holder does not answer within 1 s", async () => {
    const dataDir = join(root, "data");
    await lockDataDir(dataDir, "x").then((release) => release());
    const { dev, ino } = await stat(dataDir, { bigint: true });
    const silent = createServer(() => {}); // accepts, never writes
    silent.listen(`\0modbox-registries/${dev}:${ino}`);
    await once(silent, "listening");
    try {
      const started = Date.now();
      const message = await refusal(lockDataDir(dataDir, "modbox server"));
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(message).toContain(
        `The data directory ${dataDir} is in use by an unknown process (it holds the lock but did not say who within 1 s).`,
      );
    } finally {
      silent.close();
    }
  });

  it("never keeps the process alive", async () => {
    const dataDir = join(root, "data");
    const { lines, exited } = runNode(
      `await lockDataDirWith(${JSON.stringify(dataDir)}, "held to the end", "abstract"); console.log("locked");`,
    );
    expect((await lines.next()).value).toBe("locked");
    expect(await exited).toBe(0);
  });
});

/**
 * The body of a child racing another for the lock, round after round, each round on a fresh
 * directory. A round starts when both children are ready (files in a sync directory), at an
 * instant both compute from what they wrote; each spins to it, so both bind within microseconds.
 * A winner holds the lock until both have finished trying: two winners in a round held it at
 * the same time.
 */
function racingChild(root: string, rounds: number, kind: LockSocketKind): string {
  return `
    const fs = await import("node:fs");
    const { performance } = await import("node:perf_hooks");
    const now = () => performance.timeOrigin + performance.now();
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const root = ${JSON.stringify(root)};
    const me = String(process.pid);
    const waitFor = async (dir, suffix) => {
      const giveUpAt = now() + 20_000;
      let files;
      while ((files = fs.readdirSync(dir).filter((f) => f.endsWith(suffix))).length < 2) {
        if (now() > giveUpAt) throw new Error("the other child never came: " + dir + " " + suffix);
        Atomics.wait(nap, 0, 0, 1);
      }
      return files;
    };
    const out = [];
    for (let round = 0; round < ${rounds}; round++) {
      const sync = root + "/sync-" + round;
      fs.mkdirSync(sync, { recursive: true });
      fs.writeFileSync(sync + "/" + me + ".tmp", String(now()));
      fs.renameSync(sync + "/" + me + ".tmp", sync + "/" + me + ".ready");
      const ready = await waitFor(sync, ".ready");
      const at = Math.max(...ready.map((f) => Number(fs.readFileSync(sync + "/" + f, "utf8")))) + 20;
      while (now() < at) {} // spin to the instant
      let release;
      try {
        release = await lockDataDirWith(root + "/r" + round, "round " + round, ${JSON.stringify(kind)});
        out.push("won");
      } catch (err) {
        if (!(err instanceof DataDirLockedError)) throw err;
        out.push("lost");
      }
      fs.writeFileSync(sync + "/" + me + ".done", "");
      await waitFor(sync, ".done");
      await release?.();
      await sleep(1);
    }
    console.log(JSON.stringify(out));`;
}

describe.each<LockSocketKind>(["abstract", "file"])("processes locking at the same instant (%s socket)", (kind) => {
  it.runIf(kind === "file" || process.platform === "linux")(
    "exactly one of two processes gets each fresh directory, 20 rounds",
    async () => {
      const rounds = 20;
      const pair = [runNode(racingChild(root, rounds, kind)), runNode(racingChild(root, rounds, kind))];
      const results = await Promise.all(
        pair.map(async ({ lines, exited }) => {
          const line = (await lines.next()).value as string;
          expect(await exited).toBe(0);
          return JSON.parse(line) as string[];
        }),
      );
      const winners = Array.from({ length: rounds }, (_, round) => results.filter((out) => out[round] === "won").length);
      expect(winners).toEqual(Array(rounds).fill(1));
    },
    60_000,
  );
});

describe("lockDataDirWith 'file' (platforms without abstract sockets: LOCK.sock in the directory)", () => {
  it("refuses a second lock naming the holder, and releases", async () => {
    const dataDir = join(root, "data");
    const release = await lockDataDirWith(dataDir, "modbox server", "file");
    expect((await stat(join(dataDir, "LOCK.sock"))).isSocket()).toBe(true);
    expect(await refusal(lockDataDirWith(dataDir, "other", "file"))).toContain(
      `is in use by process ${process.pid} (modbox server) since `,
    );
    await release();
    await (await lockDataDirWith(dataDir, "again", "file"))();
  });

  it("takes over the socket file left by a process killed with -9", async () => {
    const dataDir = join(root, "data");
    const child = await childHoldingLock(dataDir, "file");
    expect(await refusal(lockDataDirWith(dataDir, "modbox server", "file"))).toContain(`process ${child.pid} (lock test child)`);
    await killHard(child);
    expect((await stat(join(dataDir, "LOCK.sock"))).isSocket()).toBe(true); // left behind
    const release = await lockDataDirWith(dataDir, "modbox server", "file");
    expect(await refusal(lockDataDirWith(dataDir, "other", "file"))).toContain(`process ${process.pid} (modbox server)`);
    await release();
  });
});
