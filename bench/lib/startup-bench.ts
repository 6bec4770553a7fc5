/**
 * Start-up: spawn `node --import tsx packages/server/src/main.ts` (what `npm start` runs) and time
 * it until GET /readyz answers 200; the child's RSS is read at that moment. Each run is a cold
 * process on fresh state: a new PGlite data dir (the embedded default: generates its key, creates
 * its first token, migrates) or a new empty PostgreSQL database (migrates).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort } from "@modbox/testkit/ports";
import { childEnv, startServerProcess } from "./processes.js";
import { median, round } from "./stats.js";

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

export const SERVER_MAIN = "packages/server/src/main.ts";

function summarizeRuns(runs: StartupRun[]): StartupResult {
  const rss = runs.map((r) => r.rssMiB).filter((v): v is number => v !== null);
  return {
    runs,
    readyMs: round(median(runs.map((r) => r.readyMs)), 1),
    rssMiB: rss.length ? round(median(rss), 1) : null,
  };
}

async function once(env: NodeJS.ProcessEnv, port: number): Promise<StartupRun> {
  const server = await startServerProcess({ name: "server (start-up)", script: SERVER_MAIN, port, env, readyTimeoutMs: 60_000 });
  try {
    return {
      readyMs: round(server.readyMs, 1),
      rssMiB: server.rssAtReadyBytes === null ? null : round(server.rssAtReadyBytes / 2 ** 20, 1),
    };
  } finally {
    await server.stop();
  }
}

/** The embedded default, exactly as `npm start` on a fresh clone: no variables but the port. */
export async function startupPglite(runs: number): Promise<StartupResult> {
  const results: StartupRun[] = [];
  for (let i = 0; i < runs; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), "modbox-bench-pglite-"));
    try {
      const port = await findFreePort();
      results.push(await once(childEnv({ PORT: String(port), HOST: "127.0.0.1", MODBOX_DATA_DIR: dataDir }), port));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return summarizeRuns(results);
}

/** PostgreSQL: a new empty database per run (so every run migrates), production settings. */
export async function startupPostgres(
  runs: number,
  newDatabaseUrl: () => Promise<{ url: string; drop(): Promise<void> }>,
  vars: Record<string, string>,
): Promise<StartupResult> {
  const results: StartupRun[] = [];
  for (let i = 0; i < runs; i++) {
    const database = await newDatabaseUrl();
    try {
      const port = await findFreePort();
      results.push(await once(childEnv({ ...vars, PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: database.url }), port));
    } finally {
      await database.drop();
    }
  }
  return summarizeRuns(results);
}
