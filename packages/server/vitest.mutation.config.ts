import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vitest/config";
import type { TestCase } from "vitest/node";
import { keptThreadPool } from "./vitest.mutation.pool.js";

// What StrykerJS runs against each server mutant (stryker.config.json): the unit tests of the
// mutated folders, with the run's throwaway PostgreSQL (on PostgreSQL only, see `env` below).
// Left out: the contract, security and end-to-end suites (each starts apps, databases or a
// registry per file, minutes per mutant), and the package's other unit tests (start-up, the
// CLIs, migrations, metrics), which reach the mutated code only in passing and spawn processes
// or build databases: a surviving mutant would run them all, seconds each. A mutant only they
// would kill shows as survived here (see MUTATION.md).
//
// Stryker runs this config from a sandbox copy of the package (packages/server/.stryker-tmp/…),
// which holds the mutated source. Three things would otherwise escape the sandbox:
// - a path relative to this file would point inside it, so the workspace's global setup is found
//   by walking up to pnpm-workspace.yaml;
// - @modbox/testkit imports the server's source by a relative path from packages/testkit (through
//   node_modules symlinks, so the real packages/server/src): a test would then meet two copies of
//   a module (the sandbox's and the original, unmutated one). serveSandboxSource sends every
//   import of the original source to the sandbox's copy;
// - src/contract-file.ts finds openapi.yaml three folders up from itself, which from the sandbox
//   is not the repository: pointContractFileAtRepository gives it the repository's file.
const here = dirname(fileURLToPath(import.meta.url));
const root = workspaceRoot(here);
const pool = keptThreadPool(() => workspaceSourceFiles(root, here));

export default defineConfig({
  plugins: [
    keepOneWorkerThread(pool),
    serveSandboxSource(join(root, "packages/server/src"), join(here, "src")),
    pointContractFileAtRepository(join(here, "src/contract-file.ts"), join(root, "openapi.yaml")),
  ],
  test: {
    name: "server-mutation",
    include: testsOfMutatedFolders(join(here, "stryker.config.json")),
    globalSetup: [join(root, "test/global-setup.ts")],
    setupFiles: [join(here, "vitest.mutation.setup.ts")],
    // PostgreSQL only: the same SQL on both databases, without a PGlite start per file per mutant.
    env: { MODBOX_TEST_BACKENDS: "postgres" },
    // One module graph for all the files a mutant runs, instead of importing Express, drizzle and
    // the contract again per file per mutant. Stryker switches mutants at run time, so a cached
    // module still runs the active one; no unit test here mocks a module (vi.mock) that could leak.
    isolate: false,
    // A mutant that leaves a promise unsettled hangs its test until this timeout, which then
    // counts as a kill: with the suite's 30 s, such mutants left the cores idle for most of a
    // run. The slowest test here takes about 1 s.
    testTimeout: 5000,
    hookTimeout: 30000,
    // A test that timed out is still pending in the kept thread, which is then not kept.
    reporters: ["default", { onTestCaseResult: (test) => discardThreadIfTimedOut(test, pool) }],
  },
});

/** `src/auth/**\/*.ts` in stryker.config.json's `mutate` → `src/auth/**\/*.test.ts` (exclusions dropped). */
function testsOfMutatedFolders(strykerConfig: string): string[] {
  const { mutate } = JSON.parse(readFileSync(strykerConfig, "utf8")) as { mutate: string[] };
  return mutate.filter((glob) => !glob.startsWith("!")).map((glob) => glob.replace(/\.ts$/, ".test.ts"));
}

/**
 * Runs every mutant in one worker thread (vitest.mutation.pool.ts). Set when vitest sets up the
 * project, because Stryker's runner passes `pool: "threads"` over this file's own `pool`.
 */
function keepOneWorkerThread(pool: ReturnType<typeof keptThreadPool>): Plugin {
  return {
    name: "modbox:keep-one-worker-thread",
    configureVitest({ vitest, project }) {
      project.config.pool = pool.name;
      project.config.poolRunner = pool;
      vitest.onClose(() => pool.close());
    },
  };
}

function discardThreadIfTimedOut(test: TestCase, pool: ReturnType<typeof keptThreadPool>): void {
  if (test.result().errors?.some((error) => /timed out in \d+ ?ms/.test(error.message))) pool.discardAfterThisRun();
}

/** Every source file of the workspace's packages, the server's from the sandbox (it holds the mutants). */
function workspaceSourceFiles(root: string, server: string): string[] {
  const packages = join(root, "packages");
  const sources = readdirSync(packages).map((name) => (name === "server" ? join(server, "src") : join(packages, name, "src")));
  return sources.flatMap((dir) => (existsSync(dir) ? filesUnder(dir) : []));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.[cm]?[jt]s$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

function workspaceRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
  }
}

function serveSandboxSource(originalSource: string, sandboxSource: string): Plugin {
  const original = originalSource + sep;
  const sandbox = sandboxSource + sep;
  return {
    name: "modbox:serve-sandbox-source",
    enforce: "pre",
    async resolveId(source, importer, options) {
      if (original === sandbox) return null; // run outside a sandbox: nothing to redirect
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (!resolved || !resolved.id.startsWith(original)) return null;
      return { ...resolved, id: sandbox + resolved.id.slice(original.length) };
    },
  };
}

function pointContractFileAtRepository(contractFile: string, openapiYaml: string): Plugin {
  const relative = `"../../../openapi.yaml"`;
  return {
    name: "modbox:contract-file-in-sandbox",
    enforce: "pre",
    transform(code, id) {
      if (id !== contractFile) return null;
      // Fail loudly if contract-file.ts changes how it finds the contract, rather than read a stale path.
      if (!code.includes(relative)) throw new Error(`${contractFile} no longer names ${relative}: update vitest.mutation.config.ts`);
      return code.replace(relative, JSON.stringify(openapiYaml));
    },
  };
}
