/**
 * `pnpm test:mutation`: StrykerJS over the security core, one package after the other, then the
 * summary block of MUTATION.md (scores per folder, undetected and equivalent mutants) from their
 * JSON reports. Not run in CI: on two cores crypto takes ~15 min and the server's whole scope
 * ~24 min (MUTATION.md).
 *
 *   pnpm test:mutation                   both packages, incremental (reuses unchanged mutants' results)
 *   pnpm test:mutation --full            every mutant again (Stryker's --force)
 *   pnpm test:mutation --only crypto     one package (crypto | server); the summary keeps the other's last figures
 *   pnpm test:mutation --only server --mutate 'src/auth/**\/*.ts,!src/**\/*.test.ts'
 *                                        part of a package's scope (Stryker's --mutate); its other folders show as not run
 *   pnpm test:mutation --summary-only    rewrite MUTATION.md from the reports already on disk
 *
 * Each package's report: packages/<name>/reports/mutation/{index.html,mutation.json} (untracked);
 * the run's timing and commit: packages/<name>/reports/mutation/run.json.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  equivalents,
  replaceSummaryBlock,
  scoreScope,
  summaryMarkdown,
  undetected,
  type PackageRun,
  type ReportFiles,
  type Scope,
} from "./summary.js";
import { scopesFromMutateGlobs } from "./scopes.js";
import { startPostgresServer } from "@modbox/testkit/postgres";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PACKAGES = ["crypto", "server"] as const;
type PackageName = (typeof PACKAGES)[number];

// The issue's bar: 90 % where a surviving mutant is most likely a security hole, 80 % elsewhere.
const TARGETS: Record<string, number> = { crypto: 90, "server/auth": 90, "server/services": 90 };
const DEFAULT_TARGET = 80;

interface RunRecord {
  /** The --mutate globs when the run covered part of the package's scope. */
  mutate?: string;
  commit: string;
  finishedAt: string;
  wallSeconds: number;
  full: boolean;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const full = args.includes("--full");
  const summaryOnly = args.includes("--summary-only");
  const onlyAt = args.indexOf("--only");
  const only = onlyAt === -1 ? undefined : args[onlyAt + 1];
  if (only !== undefined && !PACKAGES.includes(only as PackageName)) {
    throw new Error(`--only takes one of ${PACKAGES.join(", ")}`);
  }
  const mutateAt = args.indexOf("--mutate");
  const mutate = mutateAt === -1 ? undefined : args[mutateAt + 1];
  if (mutate !== undefined && only === undefined) throw new Error("--mutate needs --only: the globs are one package's");
  const selected = PACKAGES.filter((name) => only === undefined || name === only);

  let failed = false;
  if (!summaryOnly) {
    // One PostgreSQL for the whole run: without it, the global setup would start one for every
    // test runner Stryker (re)starts, and it restarts one after every mutant that times out.
    const postgres = process.env.DATABASE_URL ? undefined : await startPostgresServer();
    const env = { ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? postgres!.url };
    // Ctrl-C or a kill would otherwise end this process at once and leave the PostgreSQL running:
    // pass the signal on to Stryker, wait for it, stop the server, then exit as signalled.
    let interrupted: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      interrupted = signal;
      // The whole group: Stryker's test-runner workers outlive a signal sent to Stryker alone.
      if (running?.pid) process.kill(-running.pid, signal);
    };
    process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
    try {
      for (const name of selected) {
        if (interrupted) break;
        failed = !(await runStryker(name, full, mutate, env)) || failed;
      }
    } finally {
      await postgres?.stop();
    }
    if (interrupted) {
      // Stryker deletes its sandbox only when it finishes: an interrupted one would linger (a full copy of the package).
      for (const name of selected) rmSync(join(ROOT, "packages", name, ".stryker-tmp"), { recursive: true, force: true });
      console.error(`${interrupted}: stopped; MUTATION.md left as it was`);
      process.exit(interrupted === "SIGINT" ? 130 : 143);
    }
  }
  const runs = PACKAGES.map(packageRun).filter((run): run is PackageRun => run !== undefined);
  const file = join(ROOT, "MUTATION.md");
  writeFileSync(file, replaceSummaryBlock(readFileSync(file, "utf8"), summaryMarkdown(runs)));
  for (const run of runs) {
    for (const s of run.scores) {
      const score = Number.isNaN(s.score) ? "not run" : `${s.score.toFixed(1).padStart(5)} %`;
      console.log(`${s.scope.name.padEnd(28)} ${score} (target ${s.scope.target} %)`);
    }
  }
  console.log(`MUTATION.md: summary rewritten from ${runs.length} report(s)`);
  if (failed) process.exitCode = 1;
}

/** The Stryker process of the package being run, for the signal handler. */
let running: ChildProcess | undefined;

async function runStryker(name: PackageName, full: boolean, mutate: string | undefined, env: NodeJS.ProcessEnv): Promise<boolean> {
  const dir = join(ROOT, "packages", name);
  const started = Date.now();
  // A process group of its own (detached), so that an interrupt can stop Stryker and every worker it started.
  running = spawn("pnpm", ["exec", "stryker", "run", ...(full ? ["--force"] : []), ...(mutate ? ["--mutate", mutate] : [])], {
    cwd: dir,
    env,
    stdio: "inherit",
    detached: true,
  });
  const [code, signal] = (await once(running, "exit")) as [number | null, NodeJS.Signals | null];
  running = undefined;
  if (code !== 0) {
    console.error(`stryker in packages/${name} exited ${code ?? signal}`);
    return false;
  }
  const record: RunRecord = {
    commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim() + (dirty() ? "+changes" : ""),
    finishedAt: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    wallSeconds: (Date.now() - started) / 1000,
    full,
    ...(mutate && { mutate }),
  };
  writeFileSync(join(dir, "reports/mutation/run.json"), `${JSON.stringify(record, null, 2)}\n`);
  return true;
}

function dirty(): boolean {
  // The summary this script rewrites is not part of what was tested.
  const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!MUTATION.md"], { cwd: ROOT, encoding: "utf8" });
  return status.trim() !== "";
}

function packageRun(name: PackageName): PackageRun | undefined {
  const dir = join(ROOT, "packages", name);
  const reportFile = join(dir, "reports/mutation/mutation.json");
  const recordFile = join(dir, "reports/mutation/run.json");
  if (!existsSync(reportFile) || !existsSync(recordFile)) return undefined;
  const record = JSON.parse(readFileSync(recordFile, "utf8")) as RunRecord;
  // An incremental report keeps earlier runs' results for files outside --mutate: a partial run
  // reports only the folders it ran.
  const ran = record.mutate ? scopesFromMutateGlobs(name, record.mutate.split(",")).map((s) => s.prefix) : undefined;
  const files = Object.fromEntries(
    Object.entries((JSON.parse(readFileSync(reportFile, "utf8")) as { files: ReportFiles }).files).filter(
      ([file]) => ran === undefined || ran.some((prefix) => file.startsWith(prefix)),
    ),
  );
  const config = JSON.parse(readFileSync(join(dir, "stryker.config.json"), "utf8")) as { mutate: string[] };
  const scopes: Scope[] = scopesFromMutateGlobs(name, config.mutate).map((s) => ({
    ...s,
    target: TARGETS[s.name] ?? DEFAULT_TARGET,
  }));
  const packagePath = `packages/${name}`;
  return {
    packagePath,
    ...record,
    scores: scopes.map((scope) => scoreScope(files, scope)),
    undetected: undetected(files, packagePath),
    equivalents: equivalents(files, packagePath),
  };
}

await main();
