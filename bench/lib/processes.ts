/**
 * Child processes of the bench: every server runs in its own Node process (so the load generator
 * never shares its event loop), listens on 127.0.0.1, and is stopped by pid. A process-exit hook
 * SIGKILLs whatever is still running if the bench dies early.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const running = new Map<number, ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of running.keys()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** Stops every child still running (SIGTERM, then SIGKILL): for Ctrl-C. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running.keys()].map((pid) => stopPid(pid, 5_000)));
}

/**
 * The environment a child gets: only what Node needs to run plus the given variables, so nothing
 * of the caller's (a DATABASE_URL, a test runner's settings) leaks into a measurement.
 */
export function childEnv(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"]) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  for (const [name, value] of Object.entries(vars)) if (value !== undefined) env[name] = value;
  return env;
}

export interface ServerProcess {
  name: string;
  pid: number;
  url: string;
  /** Milliseconds from spawn until `readyPath` answered 200. */
  readyMs: number;
  /** Resident set size (VmRSS) of the child when it became ready, in bytes; null off Linux. */
  rssAtReadyBytes: number | null;
  /** The last lines the child printed (tokens redacted), for error messages. */
  output(): string;
  /** SIGTERM by pid, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** `node <args>` from the repository root (or `cwd`), tracked so Ctrl-C and an early exit stop it by pid. */
function spawnTracked(name: string, args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): { child: ChildProcess; pid: number } {
  installExitHook();
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not spawn node`);
  running.set(pid, child);
  return { child, pid };
}

export interface StartServerOptions {
  name: string;
  /** A script path relative to the repository root (or `cwd`), run with `node --import tsx`. */
  script: string;
  /** Where the process runs and `script` is found (default: the repository root). */
  cwd?: string;
  /** false: built JavaScript, run as `node <script>` without tsx (default true). */
  tsx?: boolean;
  port: number;
  env: NodeJS.ProcessEnv;
  /** Extra flags for node, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  readyPath?: string;
  readyTimeoutMs?: number;
}

/** Spawns `node --import tsx <script>` (or `node <script>`) and waits until GET readyPath answers 200. */
export async function startServerProcess(options: StartServerOptions): Promise<ServerProcess> {
  const started = performance.now();
  const loader = options.tsx === false ? [] : ["--import", "tsx"];
  const { child, pid } = spawnTracked(options.name, [...(options.nodeArgs ?? []), ...loader, options.script], options.env, options.cwd);

  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      running.delete(pid);
      resolve();
    });
  });
  const output = () => tail.replace(/mbx_[A-Za-z0-9_-]+/g, "mbx_[redacted]");

  const url = `http://127.0.0.1:${options.port}`;
  const readyUrl = `${url}${options.readyPath ?? "/readyz"}`;
  const deadline = started + (options.readyTimeoutMs ?? 60_000);
  let rssAtReadyBytes: number | null = null;
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${options.name} exited (code ${exitCode}) before it was ready:\n${output()}`);
    }
    if (performance.now() > deadline) {
      await stopPid(pid, 2_000);
      throw new Error(`${options.name} was not ready within ${options.readyTimeoutMs ?? 60_000} ms:\n${output()}`);
    }
    const ok = await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) })
      .then(async (res) => {
        await res.arrayBuffer();
        return res.status === 200;
      })
      .catch(() => false);
    if (ok) {
      rssAtReadyBytes = readRss(pid);
      break;
    }
    await sleep(10);
  }
  const readyMs = performance.now() - started;

  return {
    name: options.name,
    pid,
    url,
    readyMs,
    rssAtReadyBytes,
    output,
    async stop(graceMs = 15_000) {
      if (exitCode !== undefined) return;
      await stopPid(pid, graceMs);
      await exited;
    },
  };
}

export interface ScriptRun {
  /** Exit code; null when killed by a signal (after `timeoutMs`, see `timedOut`). */
  code: number | null;
  timedOut: boolean;
  stdout: string;
  /** The last 8,000 characters of stderr (tokens redacted). */
  stderr: string;
  /** `performance.now()` at spawn and at exit. */
  spawnedAt: number;
  exitedAt: number;
  /** CPU time (user + system, ms) the process had used at its last sample (every 100 ms); null off Linux. */
  cpuMs: number | null;
}

/**
 * Runs `node --import tsx <script> <args>` to its end (a command-line tool, not a server),
 * registered like the servers so Ctrl-C and an early exit stop it by pid; SIGTERM after
 * `timeoutMs`, SIGKILL 5 s later. `onSpawn` is called once the process exists.
 */
export async function runScript(options: {
  name: string;
  script: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  onSpawn?: (pid: number, at: number) => void;
  /** Every chunk it prints, stdout and stderr alike, as it comes (e.g. to wait for a "ready" line). */
  onOutput?: (text: string) => void;
}): Promise<ScriptRun> {
  const spawnedAt = performance.now();
  const { child, pid } = spawnTracked(options.name, ["--import", "tsx", options.script, ...options.args], options.env);
  options.onSpawn?.(pid, spawnedAt);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout = (stdout + chunk.toString("utf8")).slice(-64_000);
    options.onOutput?.(chunk.toString("utf8"));
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8_000);
    options.onOutput?.(chunk.toString("utf8"));
  });
  let cpuMs: number | null = null;
  const sampler = setInterval(() => {
    cpuMs = readCpuMs(pid) ?? cpuMs;
  }, 100);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopPid(pid, 5_000);
  }, options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", (exitCode) => {
      running.delete(pid);
      resolve(exitCode);
    });
  });
  const exitedAt = performance.now();
  clearTimeout(timer);
  clearInterval(sampler);
  const redact = (text: string) => text.replace(/mbx_[A-Za-z0-9_-]+/g, "mbx_[redacted]");
  return { code, timedOut, stdout: redact(stdout), stderr: redact(stderr), spawnedAt, exitedAt, cpuMs };
}

async function stopPid(pid: number, graceMs: number): Promise<void> {
  const child = running.get(pid);
  if (!child) return;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** VmRSS of a process in bytes (Linux /proc), or null. */
export function readRss(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; null off
 * Linux. Its difference over a load run, per request, is the server's cost per request: unlike
 * requests/s, it barely moves when other work shares the machine.
 */
export function readCpuMs(pid: number): number | null {
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at index 2 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
