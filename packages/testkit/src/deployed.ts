/**
 * The production build as an operator makes it (the README's "Production build"): the packages
 * the server ships built with `pnpm build`, then `pnpm --filter @modbox/server deploy --prod` into
 * a fresh directory outside the workspace. What it yields runs with the process helpers'
 * `BuiltServer` (processes.ts): `node dist/main.js` there, no tsx, no sources, no repository.
 *
 * Only @modbox/crypto and @modbox/server are built: they are all the deployed server runs. (The
 * SDK is not shipped with it, and building it here would race the packed-SDK suite, whose
 * prepack empties packages/sdk/dist.) Needs pnpm on PATH, as that suite does.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuiltServer } from "./processes.js";
import { SERVER_PACKAGE_DIR } from "./server.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", SERVER_PACKAGE_DIR));
/** A cold build on a busy two-core machine takes about a minute; deploying, seconds. */
const COMMAND_TIMEOUT_MS = 300_000;

export interface DeployedServer extends BuiltServer {
  /** Wall-clock milliseconds of the build and of the deploy. */
  buildMs: number;
  deployMs: number;
  /** Deletes the directory (and its temporary parent). */
  remove(): Promise<void>;
}

/**
 * The environment of a shell, not of the script running this: without the npm_config_*,
 * npm_package_* … settings pnpm or npm pass to scripts, nor NODE_OPTIONS.
 */
function shellEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|pnpm_|node_options$)/i.test(name)));
}

/** Runs pnpm in the repository; throws with the command line and its output unless it exits 0. */
function pnpm(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("pnpm", args, { cwd: REPO_ROOT, env: shellEnv(), timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`$ pnpm ${args.join(" ")} failed (${error.code ?? error.signal ?? error.message}):\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** Builds what the server ships and deploys it into a new temporary directory. */
export async function buildAndDeployServer(): Promise<DeployedServer> {
  const parent = await mkdtemp(join(tmpdir(), "modbox-deployed-"));
  const dir = join(parent, "server");
  try {
    let started = performance.now();
    await pnpm(["--filter", "@modbox/crypto", "--filter", "@modbox/server", "build"]);
    const buildMs = performance.now() - started;
    started = performance.now();
    await pnpm(["--filter", "@modbox/server", "deploy", "--prod", dir]);
    const deployMs = performance.now() - started;
    return { dir, buildMs, deployMs, remove: () => rm(parent, { recursive: true, force: true }) };
  } catch (err) {
    await rm(parent, { recursive: true, force: true });
    throw err;
  }
}
