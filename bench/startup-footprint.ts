/**
 * First-start time and memory, the embedded default against PostgreSQL, without the rest of the
 * bench (~1 min):
 *
 *   node --import tsx bench/startup-footprint.ts [--runs 3]
 *
 * Each run is a cold `node --import tsx packages/server/src/main.ts` (what `npm start` runs),
 * timed from spawn until GET /readyz answers 200, its RSS (VmRSS) read at that moment
 * (bench/lib/startup-bench.ts, as `pnpm bench` measures it). Embedded: a fresh data directory and
 * no variable but the port (it generates its key and first token, and migrates). PostgreSQL: a new
 * empty database per run (it migrates), the bench's production settings. One untimed start of each
 * first warms tsx's transpile cache. PostgreSQL is a throwaway PostgreSQL 15 on 127.0.0.1 (or
 * DATABASE_URL's server, as an admin URL, when set); it is stopped at the end.
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createPostgresTestDatabase, startPostgresServer } from "@modbox/testkit/postgres";
import { startupPglite, startupPostgres, type StartupResult } from "./lib/startup-bench.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");

const owned = process.env.DATABASE_URL ? undefined : await startPostgresServer();
const adminUrl = process.env.DATABASE_URL ?? owned!.url;
try {
  const freshDb = async () => {
    const db = await createPostgresTestDatabase(adminUrl);
    return { url: db.url, drop: () => db.drop() };
  };
  const pgVars = {
    NODE_ENV: "production",
    MODBOX_LOG_LEVEL: "warn",
    MODBOX_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString("base64")}`,
    MODBOX_BOOTSTRAP_TOKEN: `mbx_${randomBytes(24).toString("base64url")}`,
  };
  const load = () => loadavg().map((v) => v.toFixed(1)).join(" ");
  console.log(`load average before: ${load()}`);
  await startupPglite(1);
  await startupPostgres(1, freshDb, pgVars);
  // One subject (the sources, as npm start runs them): one result each.
  const [lite] = await startupPglite(runs);
  const [pg] = await startupPostgres(runs, freshDb, pgVars);
  if (!lite || !pg) throw new Error("no start-up measured");
  const row = (name: string, r: StartupResult) =>
    `| ${name} | ${r.runs.map((x) => `${Math.round(x.readyMs)} ms / ${x.rssMiB ?? "?"} MiB`).join(" · ")} | ${Math.round(r.readyMs)} ms | ${r.rssMiB ?? "?"} MiB |`;
  console.log(`\n| set-up | runs (ready / RSS at ready) | median ready | median RSS |\n|---|---|---|---|`);
  console.log(row("embedded PGlite, fresh data dir", lite));
  console.log(row("PostgreSQL 15, empty database", pg));
  console.log(`\nload average after: ${load()} (node ${process.version}, ${runs} runs each)`);
} finally {
  await owned?.stop();
}
