import { mkdir, rm, stat } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";

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
 * address in use that refuses connections is stale: it is unlinked and bound again, once. That
 * takeover is not atomic: two processes taking over the same stale socket at the same instant
 * could both succeed.
 *
 * The holder answers whoever connects with one JSON line, {pid, purpose, since}, so a refused
 * process can say who holds the directory (the pid as the holder sees it: in a container, the
 * container's own).
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

  let server = await bind(address, holder);
  if (server === "in-use" && kind === "file") {
    const answer = await askHolder(address);
    if (answer === "refused") {
      // The holder died and left its socket file behind. Not atomic (see above).
      await rm(address, { force: true });
      server = await bind(address, holder);
    } else {
      throw lockedError(dataDir, answer);
    }
  }
  if (server === "in-use") throw lockedError(dataDir, await askHolder(address));

  // The lock is held from here: an older version's pid file says nothing any more.
  await rm(join(dataDir, LEGACY_PID_FILE), { force: true });

  const listening = server;
  let released: Promise<void> | undefined;
  return () => (released ??= new Promise<void>((resolve) => listening.close(() => resolve())));
}

/** The abstract socket name of a directory: `\0modbox-registries/<dev>:<ino>`. */
async function abstractAddress(dataDir: string): Promise<string> {
  const { dev, ino } = await stat(dataDir, { bigint: true });
  return `\0${ABSTRACT_PREFIX}/${dev}:${ino}`;
}

/** Binds and listens; "in-use" when another socket has the address. Never keeps the process alive. */
function bind(address: string, holder: Holder): Promise<Server | "in-use"> {
  const answer = `${JSON.stringify(holder)}\n`;
  const server = createServer((socket) => {
    socket.unref();
    socket.on("error", () => {});
    socket.setTimeout(HOLDER_ANSWER_TIMEOUT_MS, () => socket.destroy());
    socket.end(answer);
  });
  // Whoever connects only reads one line; a crowd of connections is closed, not queued.
  server.maxConnections = 16;
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") resolve("in-use");
      else reject(err);
    });
    server.listen({ path: address, exclusive: true }, () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      server.unref();
      resolve(server);
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
