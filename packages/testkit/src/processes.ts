/**
 * The real server and command-line tools as processes, as an operator runs them
 * (`node --import tsx …`, which `npm start` runs too): a clean environment plus what a test
 * passes, port 0 on 127.0.0.1, output captured. Every process started here is tracked by pid so
 * `killStartedProcesses()` can end whatever a failing test left behind. Given a built server (a
 * `pnpm deploy` directory, see deployed.ts), the same helpers run its `node dist/…` instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVER_PACKAGE_DIR } from "./server.js";

/** The server package's directory: processes run there, as `pnpm start` runs them. */
export const SERVER_DIR = fileURLToPath(SERVER_PACKAGE_DIR);
/** The server's entry points: the server itself and its two command-line tools. */
export const ENTRY = {
  server: fileURLToPath(new URL("src/main.ts", SERVER_PACKAGE_DIR)),
  tokens: fileURLToPath(new URL("src/cli.ts", SERVER_PACKAGE_DIR)),
  keys: fileURLToPath(new URL("src/keys-cli.ts", SERVER_PACKAGE_DIR)),
};
/** The same entry points built (`pnpm build`), relative to the server package's directory. */
const BUILT_ENTRY: Record<keyof typeof ENTRY, string> = {
  server: "dist/main.js",
  tokens: "dist/cli.js",
  keys: "dist/keys-cli.js",
};
const START_TIMEOUT_MS = 60_000;

/** A built server package, e.g. a `pnpm deploy` directory: its entries run as `node dist/…` there, without tsx. */
export interface BuiltServer {
  dir: string;
}

const started = new Set<ChildProcess>();

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash or the OOM killer would. */
  kill(): Promise<void>;
}

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

// `node --import tsx` (what `npm start` runs) keeps one process, so SIGTERM reaches the server's
// handler directly rather than through tsx's signal relay.
function spawnEntry(entry: keyof typeof ENTRY, args: string[], env: Record<string, string>, built?: BuiltServer): ChildProcess {
  const nodeArgs = built ? [join(built.dir, BUILT_ENTRY[entry]), ...args] : ["--import", "tsx", ENTRY[entry], ...args];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: built?.dir ?? SERVER_DIR,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  child.once("exit", () => started.delete(child));
  return child;
}

/** Starts the server; resolves once it listens, rejects (with its stderr) if it exits first. */
export function startServerProcess(env: Record<string, string>, built?: BuiltServer): Promise<ServerProcess> {
  const child = spawnEntry("server", [], env, built);
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server did not start in time:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        child,
        url: match[1]!,
        stdout: () => stdout,
        stderr: () => stderr,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          return exit;
        },
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exit;
        },
      });
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code} before listening:\n${stderr}`));
    });
  });
}

/** Runs the server, the tokens CLI or the keys CLI to its exit (a start that is refused, a command). */
export function runToExit(entry: keyof typeof ENTRY, args: string[], env: Record<string, string>, built?: BuiltServer): Promise<Exited> {
  const child = spawnEntry(entry, args, env, built);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS * 2);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Kills (SIGKILL, by pid) every process this module started that is still running. */
export async function killStartedProcesses(): Promise<void> {
  const running = [...started].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map((c) => new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    })),
  );
}
