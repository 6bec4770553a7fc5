/**
 * What an operator meets on a first start, with the real server process: a taken port stops the
 * start at once with nothing created; a SIGTERM while starting stops it cleanly once it is up; a
 * PostgreSQL without a token says how to make one; the log is human-readable on a terminal and
 * JSON otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort } from "@modbox/testkit/ports";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import { ENTRY, killStartedProcesses, runToExit, SERVER_DIR, startServerProcess } from "@modbox/testkit/processes";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logging.js";
import { startServer } from "../../src/server.js";
import { NO_TOKEN_ON_POSTGRES } from "../../src/startup/first-token.js";
import { ListenError } from "../../src/startup/listen.js";

const postgresAdminUrl = inject("postgresUrl");
/** Each start loads node, tsx, the server (and PGlite's WASM): seconds, many more on a busy machine. */
const START_BUDGET_MS = 180_000;
const KEYS = `k1:${randomBytes(32).toString("base64")}`;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "modbox-first-start-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
/** Processes started here without the kit's helpers (runUntilListening), ended by pid after each test. */
const spawned = new Set<ChildProcess>();
afterEach(async () => {
  await killStartedProcesses();
  for (const child of spawned) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    for (const pid of childrenOf(child.pid!)) process.kill(pid, "SIGKILL");
    child.kill("SIGKILL");
  }
  spawned.clear();
});

/** A port something else listens on, for as long as the test holds it. */
async function occupiedPort(): Promise<{ port: number; release(): Promise<void> }> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const { port } = holder.address() as { port: number };
  return { port, release: () => new Promise<void>((resolve) => holder.close(() => resolve())) };
}

describe("a taken port stops the start before anything is created", () => {
  it("embedded database: exit 1 at once naming the port; no data directory, key, database or token", async () => {
    const taken = await occupiedPort();
    const dataDir = join(scratch, "never-created");
    try {
      const started = Date.now();
      const exited = await runToExit("server", [], { PORT: String(taken.port), MODBOX_DATA_DIR: dataDir });
      const ms = Date.now() - started;
      expect(exited.code).toBe(1);
      expect(exited.stderr).toBe(
        `modbox: cannot listen on 127.0.0.1:${taken.port}: the port is already in use (EADDRINUSE). Stop what listens there, or set PORT to a free port. Nothing was started or written.\n`,
      );
      expect(exited.stdout).toBe("");
      expect(`${exited.stdout}${exited.stderr}`).not.toContain("mbx_");
      // Not the data directory, so no key file and no database in it.
      await expect(readdir(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
      // Loading node, tsx and the server's modules is all of it (the bind fails at once: below).
      console.log(`[first-start] a taken port: exit 1 after ${ms} ms, process start included`);
    } finally {
      await taken.release();
    }
  }, START_BUDGET_MS);

  it("the start itself gives up within a second, before the data directory exists", async () => {
    const taken = await occupiedPort();
    const dataDir = join(scratch, "never-created-in-process");
    try {
      const started = performance.now();
      const failure = await startServer(loadConfig({ PORT: String(taken.port), MODBOX_DATA_DIR: dataDir }), createLogger("silent")).catch(
        (err: unknown) => err,
      );
      const ms = performance.now() - started;
      expect(failure).toBeInstanceOf(ListenError);
      expect(ms).toBeLessThan(1000);
      await expect(readdir(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await taken.release();
    }
  });

  it.skipIf(!postgresAdminUrl)("PostgreSQL: exit 1 naming the port, and the database is not migrated", async () => {
    const taken = await occupiedPort();
    const database = await createPostgresTestDatabase(postgresAdminUrl!);
    try {
      const exited = await runToExit("server", [], { PORT: String(taken.port), DATABASE_URL: database.url, MODBOX_ENCRYPTION_KEYS: KEYS });
      expect(exited.code).toBe(1);
      expect(exited.stderr).toContain(`modbox: cannot listen on 127.0.0.1:${taken.port}: the port is already in use (EADDRINUSE).`);
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      try {
        const tables = await sql`select table_schema, table_name from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')`;
        expect(tables).toEqual([]);
      } finally {
        await sql.end({ timeout: 5 });
      }
    } finally {
      await taken.release();
      await database.drop();
    }
  }, START_BUDGET_MS);
});

describe("a SIGTERM while the server is starting", () => {
  it("is not lost nor fatal: the start finishes, the server stops and exits 0", async () => {
    // The embedded database's first start takes seconds after the port is bound (it answers 503
    // meanwhile): the signal lands in the middle of it, where a handler installed only after the
    // start would leave the default action (death, exit code null) or, as PID 1, none at all.
    const dataDir = join(scratch, "sigterm-while-starting");
    const port = await findFreePort();
    const child = spawn(process.execPath, ["--import", "tsx", ENTRY.server], {
      cwd: SERVER_DIR,
      // The longest shutdown timeout: past it a start still running exits 1 by design (another
      // test's subject), which a loaded machine reached (a 17 s first start in one CI run).
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        PORT: String(port),
        HOST: "127.0.0.1",
        MODBOX_DATA_DIR: dataDir,
        MODBOX_SHUTDOWN_TIMEOUT_MS: "120000",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    spawned.add(child);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

    let starting = false;
    while (!starting && child.exitCode === null) {
      const answer = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      starting = answer?.status === 503;
      if (answer?.status === 200) throw new Error(`the server was ready before the test could catch it starting:\n${output}`);
      if (!starting) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(starting).toBe(true);
    child.kill("SIGTERM");

    expect(await exited).toBe(0);
    const messages = output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toContain("signal received while starting: stopping as soon as the server is up");
    expect(messages.indexOf("shutting down")).toBeGreaterThan(messages.indexOf("signal received while starting: stopping as soon as the server is up"));
    expect(messages.at(-1)).toBe("server stopped");
  }, START_BUDGET_MS);
});

describe.skipIf(!postgresAdminUrl)("a first start on PostgreSQL without a token", () => {
  let database: PostgresTestDatabase;
  beforeAll(async () => {
    database = await createPostgresTestDatabase(postgresAdminUrl!);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("logs how to make one, and stops saying so once one exists", async () => {
    const env = { DATABASE_URL: database.url, MODBOX_ENCRYPTION_KEYS: KEYS };
    const first = await startServerProcess(env);
    try {
      const warnings = first
        .stdout()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.msg === NO_TOKEN_ON_POSTGRES);
      expect(warnings).toEqual([expect.objectContaining({ level: 40 })]);
      expect(NO_TOKEN_ON_POSTGRES).toContain("npm run tokens -- create --name <name> --scope admin --all-workspaces");
      expect(NO_TOKEN_ON_POSTGRES).toContain("MODBOX_BOOTSTRAP_TOKEN");
      // Nothing is created on PostgreSQL: no token is printed.
      expect(`${first.stdout()}${first.stderr()}`).not.toMatch(/mbx_[A-Za-z0-9_-]{40}/);

      // Following the line: the CLI makes an admin token, which the running server accepts, for
      // the workspace routes and for /tokens.
      const created = await runToExit("tokens", ["create", "--name", "ops", "--scope", "admin", "--all-workspaces"], env);
      expect(created.code).toBe(0);
      const token = /(mbx_[A-Za-z0-9_-]{40})/.exec(created.stdout)?.[1];
      expect(token).toBeDefined();
      const answer = await fetch(`${first.url}/registries`, { headers: { authorization: `Bearer ${token}`, "x-workspace-id": "acme" } });
      expect(answer.status).toBe(200);
      const tokens = await fetch(`${first.url}/tokens`, { headers: { authorization: `Bearer ${token}` } });
      expect(tokens.status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const again = await startServerProcess(env);
    try {
      expect(again.stdout()).not.toContain("No API token is active");
    } finally {
      // SIGTERM the instant "listening" is logged: the handlers are in place from the process's
      // first instruction (startup/shutdown-signals.ts), so it stops cleanly rather than die.
      expect(await again.stop()).toBe(0);
    }
  }, START_BUDGET_MS);
});

/**
 * Starts the server with `command` (node itself, or `script` for a terminal) and resolves with
 * its output once it logged that it listens; the process is then ended by pid.
 */
function runUntilListening(command: string, args: string[], env: Record<string, string>): Promise<string> {
  const child: ChildProcess = spawn(command, args, {
    cwd: SERVER_DIR,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  spawned.add(child);
  let output = "";
  let listening = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no "server listening" line in time:\n${output}`));
    }, START_BUDGET_MS - 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (listening || !output.includes("modbox registries server listening")) return;
      listening = true;
      clearTimeout(timer);
      // Under `script`, the server is its child (exec'd by its shell); script exits with it.
      for (const pid of command === "script" ? childrenOf(child.pid!) : [child.pid!]) process.kill(pid, "SIGTERM");
      void exited.then(() => resolve(output));
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    void exited.then(() => {
      if (!listening) reject(new Error(`the server exited before listening:\n${output}`));
    });
  });
}

/** The pids of a process' children (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `script` runs the server on a pseudo-terminal: its stdout is a TTY, as in a shell. */
function onTerminal(env: Record<string, string>): Promise<string> {
  const command = [process.execPath, "--import", "tsx", ENTRY.server].map((part) => `'${part}'`).join(" ");
  return runUntilListening("script", ["--quiet", "--return", "--command", `exec ${command}`, "/dev/null"], env);
}

describe("the log format", () => {
  it(
    "a terminal gets human-readable lines",
    async () => {
      const output = await onTerminal({ MODBOX_DATA_DIR: join(scratch, "tty-pretty") });
      expect(output).toMatch(/\bINFO\b.*modbox registries server listening/);
      expect(output).toMatch(/url: .*http:\/\/127\.0\.0\.1:\d+/);
      expect(output).not.toMatch(/^\{"level":/m);
    },
    START_BUDGET_MS,
  );

  it(
    "a terminal with NODE_ENV=production gets JSON",
    async () => {
      const json = await onTerminal({ MODBOX_DATA_DIR: join(scratch, "tty-production"), NODE_ENV: "production" });
      expect(json).toMatch(/^\{"level":30,.*"msg":"modbox registries server listening"\}\r?$/m);
    },
    START_BUDGET_MS,
  );

  it(
    "a pipe gets pretty lines, without colours, when MODBOX_LOG_FORMAT=pretty (JSON otherwise: every other process test reads it)",
    async () => {
      const pretty = await runUntilListening(process.execPath, ["--import", "tsx", ENTRY.server], {
        MODBOX_DATA_DIR: join(scratch, "pipe-pretty"),
        MODBOX_LOG_FORMAT: "pretty",
      });
      expect(pretty).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: modbox registries server listening$/m);
      expect(pretty).not.toContain("\u001b[");
    },
    START_BUDGET_MS,
  );
});
