import { mkdir, rm, stat } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { Worker } from "node:worker_threads";

/**
 * PGlite is one process's database: two processes opening the same data directory would corrupt
 * it. The lock is a listening Unix socket, because the kernel releases it when its process dies,
 * however it dies (kill -9, OOM), and whatever process is given the same pid next. A pid file
 * cannot tell a dead holder from a new process that inherited its pid (PID 1 in a container
 * restarted without an init is always "alive"), and its stale-file takeover races.
 *
 * On Linux the socket lives in the abstract namespace, named after the directory's identity
 * (device and inode, so another path to the same directory finds the same lock): bind() is the
 * atomic acquire and nothing is left on disk. Abstract names are per network namespace: two
 * containers with separate networks sharing one volume are not kept apart (as PostgreSQL's own
 * shared-memory interlock is per IPC namespace). Any local user in the namespace can see the
 * name (/proc/net/unix) and could hold it first: that keeps the server from starting, it gives
 * no access to the data.
 *
 * Elsewhere (macOS and other development platforms) abstract sockets do not exist: the socket is
 * a file, LOCK.sock in the data directory. A socket file whose holder died is left behind, so an
 * address in use that keeps refusing connections (checked a few times: a live holder between its
 * bind and its listen refuses too) is stale: it is unlinked and bound again, once. That
 * takeover is not atomic: two processes taking over the same stale socket at the same instant
 * could both succeed.
 *
 * The holder answers whoever connects with one JSON line, {pid, purpose, since}, so a refused
 * process can say who holds the directory (the pid as the holder sees it: in a container, the
 * container's own). The socket lives in a worker thread of its own: PGlite runs PostgreSQL
 * synchronously on the main thread, for seconds at a start (initdb, crash recovery), and a
 * holder that answered from there would be "unknown" to exactly the process that arrived during
 * its start. The worker is unref'd: the lock never keeps the process alive. Should the worker
 * end while the lock is held, the lock is gone, so the process is stopped (uncaught error)
 * before a second one could open the database beside it.
 */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

export type LockSocketKind = "abstract" | "file";

/** How long a refused process waits for the holder to say who it is. */
const HOLDER_ANSWER_TIMEOUT_MS = 1_000;
/** The pid-file lock of earlier versions; deleted when the directory is locked. */
const LEGACY_PID_FILE = "LOCK";
const SOCKET_FILE = "LOCK.sock";
/** A socket file is stale once it has refused connections this many more times, this far apart. */
const STALE_CHECKS = 3;
const STALE_CHECK_INTERVAL_MS = 50;
const ABSTRACT_PREFIX = "modbox-registries";

interface Holder {
  pid: number;
  purpose: string;
  since: string;
}

/**
 * Locks the data directory for this process (created 0700 if missing) and returns the release
 * function. Throws DataDirLockedError, naming the holder, when another process holds it.
 */
export function lockDataDir(dataDir: string, purpose: string): Promise<() => Promise<void>> {
  return lockDataDirWith(dataDir, purpose, process.platform === "linux" ? "abstract" : "file");
}

/** lockDataDir with the socket kind chosen: the tests exercise the "file" kind on Linux too. */
export async function lockDataDirWith(
  dataDir: string,
  purpose: string,
  kind: LockSocketKind,
): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const address = kind === "abstract" ? await abstractAddress(dataDir) : join(dataDir, SOCKET_FILE);
  const holder: Holder = { pid: process.pid, purpose, since: new Date().toISOString() };

  let release = await bind(address, holder);
  if (release === "in-use" && kind === "file") {
    let answer = await askHolder(address);
    // A holder that has bound its socket file but not yet called listen() refuses connections
    // too, for an instant: ask again before calling the file stale.
    for (let retry = 0; answer === "refused" && retry < STALE_CHECKS; retry++) {
      await new Promise((resolve) => setTimeout(resolve, STALE_CHECK_INTERVAL_MS));
      answer = await askHolder(address);
    }
    if (answer === "refused") {
      // The holder died and left its socket file behind. Not atomic (see above).
      await rm(address, { force: true });
      release = await bind(address, holder);
    } else {
      throw lockedError(dataDir, answer);
    }
  }
  if (release === "in-use") throw lockedError(dataDir, await askHolder(address));

  // The lock is held from here: an older version's pid file says nothing any more.
  await rm(join(dataDir, LEGACY_PID_FILE), { force: true });
  return release;
}

/**
 * The abstract socket name of a directory: `\0modbox-registries/<dev>:<ino>`. Node (libuv) binds
 * and connects with the name padded with NULs to the full sun_path, so `ss -xlp` shows it with
 * trailing @s; only a client that pads the same way finds it.
 */
async function abstractAddress(dataDir: string): Promise<string> {
  const { dev, ino } = await stat(dataDir, { bigint: true });
  return `\0${ABSTRACT_PREFIX}/${dev}:${ino}`;
}

/**
 * The lock's thread, a module of its own (a data: URL, so it runs wherever this file runs, and
 * the process's --import preloads run in it as in any worker): listens on the address, answers
 * every connection with the holder's line, closes on any message. Reports {listening} or
 * {error, message}.
 */
const LOCK_THREAD = new URL(
  `data:text/javascript,${encodeURIComponent(`
import { parentPort, workerData } from "node:worker_threads";
import { createServer } from "node:net";
const server = createServer((socket) => {
  socket.on("error", () => {});
  socket.setTimeout(workerData.timeoutMs, () => socket.destroy());
  socket.end(workerData.answer);
});
server.maxConnections = 16; // whoever connects reads one line: a crowd is closed, not queued
server.once("error", (err) => {
  parentPort.postMessage({ error: err.code || "unknown", message: err.message });
  parentPort.close();
});
server.listen({ path: workerData.address }, () => {
  server.on("error", () => {});
  parentPort.postMessage({ listening: true });
});
parentPort.once("message", () => server.close(() => parentPort.close()));
`)}`,
);

type ThreadReport = { listening: true } | { error: string; message: string };

/** Binds and listens in the lock's thread; "in-use" when another socket has the address. */
function bind(address: string, holder: Holder): Promise<(() => Promise<void>) | "in-use"> {
  const worker = new Worker(LOCK_THREAD, {
    workerData: { address, answer: `${JSON.stringify(holder)}\n`, timeoutMs: HOLDER_ANSWER_TIMEOUT_MS },
  });
  let releasing = false;
  return new Promise((resolve, reject) => {
    const early = (code: number) => reject(new Error(`The data-directory lock's thread exited (${code}) before it listened`));
    worker.once("error", reject);
    worker.once("exit", early);
    worker.once("message", (report: ThreadReport) => {
      if ("error" in report) {
        worker.off("exit", early);
        if (report.error === "EADDRINUSE") resolve("in-use");
        else reject(new Error(`Could not lock the data directory: ${report.message}`));
        return;
      }
      worker.off("exit", early);
      worker.off("error", reject);
      worker.unref();
      worker.once("exit", (code) => {
        if (releasing) return;
        process.nextTick(() => {
          throw new Error(
            `The data-directory lock was lost (its thread exited with code ${code}): stopping, ` +
              "since another process could now open the embedded database beside this one.",
          );
        });
      });
      worker.on("error", () => {}); // reported by the exit above
      let released: Promise<void> | undefined;
      resolve(() =>
        (released ??= new Promise<void>((done) => {
          releasing = true;
          worker.ref(); // until the socket is closed
          worker.once("exit", () => done());
          worker.postMessage("close");
        })),
      );
    });
  });
}

/**
 * Connects to the holder and reads its line. "refused": nothing listens (a stale socket file);
 * "unknown": something holds the address but did not say who, in time or in the expected form.
 */
function askHolder(address: string): Promise<Holder | "refused" | "unknown"> {
  return new Promise((resolve) => {
    let received = "";
    let settled = false;
    const settle = (result: Holder | "refused" | "unknown") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = createConnection({ path: address });
    const timer = setTimeout(() => settle("unknown"), HOLDER_ANSWER_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\n");
      if (end >= 0) settle(parseHolder(received.slice(0, end)));
      else if (received.length > 1024) settle("unknown");
    });
    socket.on("end", () => settle(parseHolder(received)));
    socket.on("error", (err: NodeJS.ErrnoException) =>
      settle(err.code === "ECONNREFUSED" || err.code === "ENOENT" ? "refused" : "unknown"),
    );
  });
}

/** The holder's line, checked: it is printed in an error message, and anyone could have sent it. */
function parseHolder(line: string): Holder | "unknown" {
  try {
    const { pid, purpose, since } = JSON.parse(line) as Partial<Holder>;
    if (
      Number.isInteger(pid) &&
      (pid as number) > 0 &&
      typeof purpose === "string" &&
      /^[\w .:/-]{1,64}$/.test(purpose) &&
      typeof since === "string" &&
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(since)
    ) {
      return { pid: pid as number, purpose, since };
    }
  } catch {
    /* not JSON */
  }
  return "unknown";
}

function lockedError(dataDir: string, holder: Holder | "refused" | "unknown"): DataDirLockedError {
  const who =
    typeof holder === "object"
      ? `process ${holder.pid} (${holder.purpose}) since ${holder.since}`
      : `an unknown process (it holds the lock but did not say who within ${HOLDER_ANSWER_TIMEOUT_MS / 1000} s)`;
  return new DataDirLockedError(
    `The data directory ${dataDir} is in use by ${who}. ` +
      "The embedded database serves one process at a time: stop it first, or use PostgreSQL (DATABASE_URL).",
  );
}
