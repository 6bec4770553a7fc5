/**
 * Start-up: spawn the server and time it until GET /readyz answers 200; the child's RSS is read at
 * that moment. Each run is a cold process on fresh state: a new PGlite data dir (the embedded
 * default: generates its key, creates its first token, migrates) or a new empty PostgreSQL
 * database (migrates).
 *
 * Two subjects: `node --import tsx packages/server/src/main.ts` (what `npm start` runs) and the
 * production build, `node dist/main.js` in a `pnpm --filter @modbox/server deploy --prod`
 * directory (no tsx, no transpiling). When both are measured, their runs alternate (tsx first,
 * then built first, …) so a machine that slows down mid-run weighs on both alike.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort } from "@modbox/testkit/ports";
import { childEnv, startServerProcess } from "./processes.js";
import { median, ratio, round } from "./stats.js";

export interface StartupRun {
  readyMs: number;
  rssMiB: number | null;
}

export interface StartupResult {
  runs: StartupRun[];
  /** Median of the runs. */
  readyMs: number;
  rssMiB: number | null;
}

/** The built server beside the tsx one, from the same run (bench/run.ts: full runs and `--only startup`). */
export interface BuiltStartupResult {
  /** `pnpm --filter @modbox/crypto --filter @modbox/server build`, then `pnpm deploy --prod`, wall ms. */
  buildMs: number;
  deployMs: number;
  pglite: StartupResult;
  postgres: StartupResult;
  /** built ÷ tsx, medians (below 1: the built server is quicker, or smaller). */
  ratio: {
    pgliteReady: number;
    postgresReady: number;
    pgliteRss: number | null;
    postgresRss: number | null;
  };
}

export const SERVER_MAIN = "packages/server/src/main.ts";

/** How a subject is started: a script under `cwd` (default: the repository root), with tsx or not. */
export interface StartupSubject {
  script: string;
  cwd?: string;
  tsx: boolean;
}

/** What `npm start` runs. */
export const FROM_SOURCES: StartupSubject = { script: SERVER_MAIN, tsx: true };

/** The production build in a deploy directory: `node dist/main.js` there. */
export function builtSubject(deployDir: string): StartupSubject {
  return { script: "dist/main.js", cwd: deployDir, tsx: false };
}

function summarizeRuns(runs: StartupRun[]): StartupResult {
  const rss = runs.map((r) => r.rssMiB).filter((v): v is number => v !== null);
  return {
    runs,
    readyMs: round(median(runs.map((r) => r.readyMs)), 1),
    rssMiB: rss.length ? round(median(rss), 1) : null,
  };
}

/** built ÷ tsx for each measure. */
export function builtRatios(tsx: { pglite: StartupResult; postgres: StartupResult }, built: { pglite: StartupResult; postgres: StartupResult }): BuiltStartupResult["ratio"] {
  const rss = (a: number | null, b: number | null) => (a !== null && b !== null ? ratio(a, b) : null);
  return {
    pgliteReady: ratio(built.pglite.readyMs, tsx.pglite.readyMs),
    postgresReady: ratio(built.postgres.readyMs, tsx.postgres.readyMs),
    pgliteRss: rss(built.pglite.rssMiB, tsx.pglite.rssMiB),
    postgresRss: rss(built.postgres.rssMiB, tsx.postgres.rssMiB),
  };
}

async function once(subject: StartupSubject, env: NodeJS.ProcessEnv, port: number): Promise<StartupRun> {
  const server = await startServerProcess({
    name: `server (start-up${subject.tsx ? "" : ", built"})`,
    script: subject.script,
    cwd: subject.cwd,
    tsx: subject.tsx,
    port,
    env,
    readyTimeoutMs: 60_000,
  });
  try {
    return {
      readyMs: round(server.readyMs, 1),
      rssMiB: server.rssAtReadyBytes === null ? null : round(server.rssAtReadyBytes / 2 ** 20, 1),
    };
  } finally {
    await server.stop();
  }
}

/** `runs` rounds; in each, every subject once, in turn (the order reversed every other round). */
async function alternate(
  runs: number,
  subjects: readonly StartupSubject[],
  one: (subject: StartupSubject) => Promise<StartupRun>,
): Promise<StartupResult[]> {
  const results: StartupRun[][] = subjects.map(() => []);
  for (let i = 0; i < runs; i++) {
    const order = subjects.map((_, index) => index);
    if (i % 2 === 1) order.reverse();
    for (const index of order) results[index]!.push(await one(subjects[index]!));
  }
  return results.map(summarizeRuns);
}

/** The embedded default, exactly as `npm start` on a fresh clone: no variables but the port. One result per subject. */
export function startupPglite(runs: number, subjects: readonly StartupSubject[] = [FROM_SOURCES]): Promise<StartupResult[]> {
  return alternate(runs, subjects, async (subject) => {
    const dataDir = mkdtempSync(join(tmpdir(), "modbox-bench-pglite-"));
    try {
      const port = await findFreePort();
      return await once(subject, childEnv({ PORT: String(port), HOST: "127.0.0.1", MODBOX_DATA_DIR: dataDir }), port);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

/** PostgreSQL: a new empty database per run (so every run migrates), production settings. One result per subject. */
export function startupPostgres(
  runs: number,
  newDatabaseUrl: () => Promise<{ url: string; drop(): Promise<void> }>,
  vars: Record<string, string>,
  subjects: readonly StartupSubject[] = [FROM_SOURCES],
): Promise<StartupResult[]> {
  return alternate(runs, subjects, async (subject) => {
    const database = await newDatabaseUrl();
    try {
      const port = await findFreePort();
      return await once(subject, childEnv({ ...vars, PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: database.url }), port);
    } finally {
      await database.drop();
    }
  });
}
