/**
 * A throwaway PostgreSQL 15 server for tests: a fresh cluster in a temp dir, listening on a free
 * port on 127.0.0.1 only (its Unix socket lives in the temp dir too), stopped and deleted by
 * `stop()`.
 *
 * `initdb` refuses to run as root, so as root the cluster is owned and run by the `postgres`
 * user (child processes get its uid/gid); as any other user it runs as that user.
 */
import { randomBytes } from "node:crypto";
import { execFileSync, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { findFreePort } from "./ports.js";

/** Where Debian's postgresql-15 puts its binaries; override with POSTGRES_BIN_DIR. */
export const postgresBinDir = process.env.POSTGRES_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export interface PostgresServer {
  /** Superuser URL (`postgres` user, trust auth) of the `postgres` database. */
  url: string;
  /** Stops the server (`pg_ctl stop -m fast`) and deletes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** An outage: stops the server at once (`-m immediate`) but keeps its data and port. */
  halt(): Promise<void>;
  /** Ends an outage: starts the halted server again on the same port. */
  resume(): Promise<void>;
}

/** True when initdb, pg_ctl and postgres of PostgreSQL 15 are installed. */
export function postgresBinariesAvailable(binDir = postgresBinDir): boolean {
  return ["initdb", "pg_ctl", "postgres"].every((bin) => existsSync(join(binDir, bin)));
}

export interface StartPostgresOptions {
  binDir?: string;
  /**
   * Keep PostgreSQL's crash safety (fsync, synchronous commit). Off by default for speed; a test
   * that crashes the server (`halt()`) and counts acknowledged writes needs it on.
   */
  durable?: boolean;
}

export async function startPostgresServer(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const binDir = options.binDir ?? postgresBinDir;
  if (!postgresBinariesAvailable(binDir)) {
    throw new Error(`PostgreSQL 15 binaries not found in ${binDir} (Debian: apt-get install postgresql-15)`);
  }

  const dir = mkdtempSync(join(tmpdir(), "modbox-pg-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  // Run as `postgres` when we are root; cwd is the temp dir because the `postgres` user may not
  // be allowed into ours (a clone under /root), and initdb/postgres fail on an unreadable cwd.
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  const spawnOptions: SpawnSyncOptions = { cwd: dir, encoding: "utf8", timeout: 120_000, ...runAs };
  const run = (bin: string, args: string[]) => {
    const result = spawnSync(join(binDir, bin), args, spawnOptions);
    if (result.status !== 0) {
      const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
      throw new Error(`${bin} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})\n${output}`);
    }
  };
  const removeDir = () => rmSync(dir, { recursive: true, force: true });

  try {
    run("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"]);
  } catch (err) {
    removeDir();
    throw err;
  }

  // The port is free when we ask, but another process may grab it before postgres binds it:
  // retry a few times with a new port.
  const serverOptionsFor = (port: number) =>
    [
      `-p ${port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories='${dir}'`,
      "-c max_connections=200",
      // A throwaway cluster: durability buys nothing and costs time on a 2-core CI machine.
      ...(options.durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
    ].join(" ");
  const pgCtlStart = (port: number) =>
    run("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", serverOptionsFor(port), "-w", "-t", "60", "start"]);
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await findFreePort();
    try {
      pgCtlStart(port);
      break;
    } catch (err) {
      const log = readLog(logFile);
      if (attempt < 3 && /could not bind|address already in use/i.test(log)) continue;
      stopProcess(binDir, dataDir, "immediate", spawnOptions);
      removeDir();
      throw new Error(`${(err as Error).message}\n--- postgres.log ---\n${log}`);
    }
  }

  // Last resort if the test runner exits without calling stop() (vitest turns SIGINT/SIGTERM
  // into process.exit(), so this covers Ctrl-C too).
  const onExit = () => {
    stopProcess(binDir, dataDir, "immediate", spawnOptions);
    removeDir();
  };
  process.once("exit", onExit);

  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", onExit);
      stopProcess(binDir, dataDir, "fast", spawnOptions);
      removeDir();
    },
    async halt() {
      stopProcess(binDir, dataDir, "immediate", spawnOptions);
    },
    async resume() {
      pgCtlStart(port);
    },
  };
}

/** uid/gid of the `postgres` system user (created by Debian's postgresql-common). */
function postgresUser(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new Error("running as root but there is no `postgres` user to run initdb as (apt-get install postgresql-15)");
  }
}

/**
 * Stops the server of *our* data dir: `pg_ctl stop`, and if that fails, SIGQUIT (immediate
 * shutdown) to the postmaster pid recorded in that data dir's postmaster.pid. Never throws.
 */
function stopProcess(binDir: string, dataDir: string, mode: "fast" | "immediate", options: SpawnSyncOptions) {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const result = spawnSync(join(binDir, "pg_ctl"), ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"], options);
  if (result.status === 0 || !existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, "SIGQUIT");
    } catch {
      // already gone
    }
  }
}

function readLog(logFile: string): string {
  try {
    return readFileSync(logFile, "utf8").slice(-4000);
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------------
// One fresh, empty database per test file (or per test) on a server whose admin URL is known
// (the global setup's, `inject("postgresUrl")`). Tests never share a database, so they can run
// in parallel and need no cleanup beyond `drop()`.

export interface PostgresTestDatabase {
  /** URL of the new database: the admin URL with its database name replaced. */
  url: string;
  /** Name of the new database (`modbox_test_<random hex>`). */
  name: string;
  /** Drops the database `WITH (FORCE)`, closing any connection still open. Safe to call twice. */
  drop(): Promise<void>;
}

/**
 * `encoding: "SQL_ASCII"` makes a database that stores bytes unchecked (what `initdb` makes under
 * the C locale), for code that must not assume UTF8. `template` copies that database (which must
 * have no open connection) instead of the empty `template1`.
 */
export async function createPostgresTestDatabase(
  adminUrl: string,
  options: { encoding?: "SQL_ASCII"; template?: string } = {},
): Promise<PostgresTestDatabase> {
  const name = `modbox_test_${randomBytes(8).toString("hex")}`;
  await withAdmin(adminUrl, (sql) =>
    options.encoding === "SQL_ASCII"
      ? sql`CREATE DATABASE ${sql(name)} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`
      : options.template
        ? sql`CREATE DATABASE ${sql(name)} TEMPLATE ${sql(options.template)}`
        : sql`CREATE DATABASE ${sql(name)}`,
  );

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on a short-lived single connection to the admin database. */
export async function withAdmin(adminUrl: string, statement: (sql: postgres.Sql) => Promise<unknown>) {
  const sql = postgres(adminUrl, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await statement(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
