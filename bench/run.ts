/**
 * `pnpm bench`: the benchmark harness, one command.
 *
 *   pnpm bench                      full run → bench/results/latest.json + the table in BENCHMARKS.md
 *   pnpm bench:smoke                a few requests of everything on a tiny seed → a temp JSON file
 *   node --import tsx bench/run.ts [--smoke] [--out FILE] [--postgres-url URL] [--profile SCENARIO [--side baseline]] [--only rotation|forged-tokens|idempotency|startup]
 *
 * It starts what it needs on 127.0.0.1 (a throwaway PostgreSQL 15 unless --postgres-url names
 * one; our server and the baseline each in a child process), seeds three databases with SQL, loads
 * both servers from this process with autocannon (bounded in requests and in time), and stops
 * everything it started (children by pid, PostgreSQL with pg_ctl), also on Ctrl-C.
 *
 * --profile SCENARIO runs only that scenario against our server (or, with --side baseline, the
 * baseline) started with --cpu-prof, and writes the profile under bench/results/profiles/ (not
 * committed) plus a summary of the load window, bench/results/profile-[baseline-]SCENARIO.md.
 *
 * --only rotation runs only the key rotation scenario (bench/lib/rotation-bench.ts) of the plan
 * (full, or with --smoke the small one), prints its section and writes its result as JSON to
 * --out or a temp file; it never touches bench/results/latest.json nor BENCHMARKS.md. --only
 * forged-tokens does the same for the forged-token scenario (bench/lib/forged-tokens-bench.ts),
 * --only idempotency for the cost of Idempotency-Key on create (bench/lib/idempotency-bench.ts),
 * --only startup for start-up (bench/lib/startup-bench.ts).
 *
 * Start-up measures `npm start` (tsx) and, beside it in the same run, the production build:
 * `pnpm build` of crypto and server, `pnpm --filter @modbox/server deploy --prod` into a temp
 * directory, `node dist/main.js` there. Full runs and --only startup do; smoke runs do not build
 * (a build is a minute of CPU, and the deployed-build e2e suite already runs the built server).
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem, type } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { createCipher, formatKeyringSpec, generateKey, parseKeyringSpec, type Cipher } from "@modbox/crypto";
import postgres from "postgres";
import { generateApiToken } from "../packages/server/src/auth/api-token.js";
import { openDatabase } from "../packages/server/src/db/client.js";
import { migrateDatabase } from "../packages/server/src/db/migrate.js";
import { buildAndDeployServer, type DeployedServer } from "@modbox/testkit/deployed";
import { findFreePort } from "@modbox/testkit/ports";
import {
  createPostgresTestDatabase,
  startPostgresServer,
  type PostgresTestDatabase,
} from "@modbox/testkit/postgres";
import { runCryptoBench } from "./lib/crypto-bench.js";
import { expressCeiling, runFrameworkFloor } from "./lib/floor.js";
import { mergeLoads, runLoad, type LoadBounds, type LoadResult, type LoadRun, type LoadSpec } from "./lib/load.js";
import { childEnv, REPO_ROOT, startServerProcess, stopAllChildren, type ServerProcess } from "./lib/processes.js";
import { profileMarkdown, summarizeProfile } from "./lib/profile.js";
import { FORGED_TOKENS_PLANS, runForgedTokensBench, type ForgedTokensPlan, type ForgedTokensResult } from "./lib/forged-tokens-bench.js";
import { IDEMPOTENCY_PLANS, runIdempotencyBench, type IdempotencyPlan, type IdempotencyResult } from "./lib/idempotency-bench.js";
import {
  checksOf,
  forgedTokensChecks,
  forgedTokensMarkdown,
  idempotencyChecks,
  idempotencyMarkdown,
  ratio,
  resultsMarkdown,
  rotationChecks,
  rotationMarkdown,
  startupChecks,
  startupMarkdown,
  writeBenchmarksMd,
  type BenchResults,
  type MeasuredScenario,
  type ScaleResult,
  type ScenarioResult,
  type StartupResults,
} from "./lib/report.js";
import { HTTP_SCENARIOS, PENDING_SCENARIOS, SCALE_SCENARIO_IDS, type HttpScenario } from "./lib/scenarios.js";
import { ROTATION_PLANS, runRotationBench, type RotationDeps, type RotationPlan, type RotationResult } from "./lib/rotation-bench.js";
import { runSdkBenchInChild } from "./lib/sdk-bench.js";
import { TARGETS } from "./lib/targets.js";
import { fakeToken, seedDatabase, type SeedResult, type SeedSpec } from "./lib/seed.js";
import {
  builtRatios,
  builtSubject,
  FROM_SOURCES,
  SERVER_MAIN,
  startupPglite,
  startupPostgres,
  type StartupSubject,
} from "./lib/startup-bench.js";

const WORKSPACE = "ws-bench";

interface Plan {
  mode: "full" | "smoke";
  seed: { small: number; main: number; large: number; otherWorkspaces: number; imagesPerRegistry: number };
  connections: number;
  warmup: LoadBounds;
  measure: LoadBounds;
  rounds: number;
  crypto: { opsPerRound: number; rounds: number };
  sdk: { calls: number; warmup: number };
  startupRuns: number;
  rotation: RotationPlan;
  forgedTokens: ForgedTokensPlan;
  idempotency: IdempotencyPlan;
}

const PLANS: Record<"full" | "smoke", Plan> = {
  full: {
    mode: "full",
    seed: { small: 1_000, main: 10_000, large: 100_000, otherWorkspaces: 4, imagesPerRegistry: 0.1 },
    connections: 10,
    warmup: { connections: 10, amount: 2_000, maxSeconds: 3 },
    measure: { connections: 10, amount: 50_000, maxSeconds: 8 },
    rounds: 2,
    crypto: { opsPerRound: 50_000, rounds: 6 },
    sdk: { calls: 1_000, warmup: 100 },
    startupRuns: 3,
    rotation: ROTATION_PLANS.full,
    forgedTokens: FORGED_TOKENS_PLANS.full,
    idempotency: IDEMPOTENCY_PLANS.full,
  },
  smoke: {
    mode: "smoke",
    seed: { small: 100, main: 200, large: 400, otherWorkspaces: 2, imagesPerRegistry: 0.1 },
    connections: 2,
    warmup: { connections: 2, amount: 10, maxSeconds: 2 },
    measure: { connections: 2, amount: 40, maxSeconds: 3 },
    rounds: 1,
    crypto: { opsPerRound: 500, rounds: 2 },
    sdk: { calls: 10, warmup: 2 },
    startupRuns: 1,
    rotation: ROTATION_PLANS.smoke,
    forgedTokens: FORGED_TOKENS_PLANS.smoke,
    idempotency: IDEMPOTENCY_PLANS.smoke,
  },
};

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const { values: args } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    out: { type: "string" },
    "postgres-url": { type: "string" },
    profile: { type: "string" },
    side: { type: "string", default: "ours" },
    only: { type: "string" },
  },
});
const plan = PLANS[args.smoke ? "smoke" : "full"];

process.once("SIGINT", () => {
  log("interrupted: stopping everything this run started");
  void stopAllChildren().finally(() => process.exit(130));
});

// --- shared set-up ---------------------------------------------------------------------------

interface Environment {
  adminUrl: string;
  postgresVersion: string;
  token: string;
  /** A `provisioner`-scope token, seeded into every database (pull-credentials scenario). */
  provisionerToken: string;
  keysSpec: string;
  /** The encryption key, base64, for the baseline's raw node:crypto decrypt. */
  rawKeyBase64: string;
  cipher: Cipher;
  databases: PostgresTestDatabase[];
  cleanup(): Promise<void>;
}

async function setUp(): Promise<Environment> {
  const fromArgs = args["postgres-url"] ?? process.env.BENCH_POSTGRES_URL;
  const started = performance.now();
  const pg = fromArgs ? null : await startPostgresServer();
  const adminUrl = fromArgs ?? pg!.url;
  log(fromArgs ? "PostgreSQL: using the given server" : `PostgreSQL 15 started in ${Math.round(performance.now() - started)} ms`);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const [{ server_version: version } = { server_version: "?" }] = await admin<{ server_version: string }[]>`show server_version`;
  await admin.end({ timeout: 5 });

  const key = generateKey();
  const keysSpec = formatKeyringSpec([key]);
  const env: Environment = {
    adminUrl,
    postgresVersion: `PostgreSQL ${version}`,
    token: `mbx_${randomBytes(24).toString("base64url")}`,
    provisionerToken: generateApiToken(),
    keysSpec,
    rawKeyBase64: Buffer.from(key.key).toString("base64"),
    cipher: createCipher(parseKeyringSpec(keysSpec)),
    databases: [],
    async cleanup() {
      await stopAllChildren();
      for (const db of env.databases) await db.drop().catch(() => {});
      await pg?.stop();
    },
  };
  return env;
}

async function newDatabase(env: Environment): Promise<PostgresTestDatabase> {
  const db = await createPostgresTestDatabase(env.adminUrl);
  env.databases.push(db);
  const handle = await openDatabase({ kind: "postgres", url: db.url, maxConnections: 2 });
  try {
    await migrateDatabase(handle);
  } finally {
    await handle.close();
  }
  return db;
}

async function seeded(env: Environment, label: string, registries: number, otherWorkspaces = plan.seed.otherWorkspaces) {
  const db = await newDatabase(env);
  const spec: SeedSpec = {
    workspaceId: WORKSPACE,
    registries,
    otherWorkspaces,
    registriesPerOtherWorkspace: otherWorkspaces === 0 ? 0 : Math.ceil(registries / otherWorkspaces),
    imagesPerRegistry: plan.seed.imagesPerRegistry,
    provisionerToken: env.provisionerToken,
  };
  const result = await seedDatabase(db.url, spec, env.cipher);
  log(`seeded ${label}: ${result.totalRegistries} registries, ${result.totalImages} images in ${result.seconds.toFixed(1)} s`);
  return { db, label, registries, seed: result };
}

/** Our server as it runs in production (main.ts, NODE_ENV=production), in its own process. */
export const OURS_SETTINGS = {
  NODE_ENV: "production",
  MODBOX_LOG_LEVEL: "warn",
  MODBOX_VALIDATE_RESPONSES: "false",
  MODBOX_RATE_LIMIT_PER_MINUTE: "0",
  MODBOX_DB_POOL_SIZE: "10",
};

async function startOurs(
  env: Environment,
  databaseUrl: string,
  nodeArgs: string[] = [],
  keysSpec = env.keysSpec,
  extra: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = await findFreePort();
  return startServerProcess({
    name: "ours",
    script: SERVER_MAIN,
    port,
    nodeArgs,
    env: childEnv({
      ...OURS_SETTINGS,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: databaseUrl,
      MODBOX_ENCRYPTION_KEYS: keysSpec,
      MODBOX_BOOTSTRAP_TOKEN: env.token,
      ...extra,
    }),
  });
}

/** A real client under forged tokens (bench/lib/forged-tokens-bench.ts): its own database. */
function runForgedTokens(env: Environment): Promise<ForgedTokensResult> {
  return runForgedTokensBench(
    {
      log,
      seed: async (registries) => {
        const data = await seeded(env, "forged tokens", registries, 0);
        return { url: data.db.url, seed: data.seed };
      },
      startServer: (databaseUrl, extra) => startOurs(env, databaseUrl, [], env.keysSpec, { ...extra }),
      workspaceId: WORKSPACE,
      warmup: plan.warmup,
    },
    plan.forgedTokens,
  );
}

/**
 * The cost of Idempotency-Key on create (bench/lib/idempotency-bench.ts): its own database, seeded
 * as the main one the create scenario runs on, our server in the same settings, the same requests.
 */
function runIdempotency(env: Environment): Promise<IdempotencyResult> {
  return runIdempotencyBench(
    {
      log,
      seed: async (registries) => {
        const data = await seeded(env, "idempotency", registries);
        return { url: data.db.url, seed: data.seed };
      },
      startServer: (databaseUrl) => startOurs(env, databaseUrl),
      createSpec: (seed) => loadSpec(env, HTTP_SCENARIOS.find((s) => s.id === "create")!, seed),
      warmup: plan.warmup,
      measure: plan.measure,
    },
    plan.idempotency,
  );
}

/** Key rotation under load (bench/lib/rotation-bench.ts): its own database, nothing beside the workspace. */
function runRotation(env: Environment): Promise<RotationResult> {
  const deps: RotationDeps = {
    log,
    seed: async (registries) => {
      const data = await seeded(env, "rotation", registries, 0);
      return { url: data.db.url, seed: data.seed };
    },
    startServer: (databaseUrl, keysSpec) => startOurs(env, databaseUrl, [], keysSpec),
    loadSpec: (id, seed) => loadSpec(env, HTTP_SCENARIOS.find((s) => s.id === id)!, seed),
    oldKeysSpec: env.keysSpec,
    token: env.token,
    workspaceId: WORKSPACE,
    warmup: plan.warmup,
  };
  return runRotationBench(deps, plan.rotation);
}

async function startBaseline(env: Environment, databaseUrl: string, nodeArgs: string[] = []): Promise<ServerProcess> {
  const port = await findFreePort();
  const envelope = env.cipher.encrypt(fakeToken(), { workspace_id: WORKSPACE, registry_id: "baseline" });
  return startServerProcess({
    name: "baseline",
    script: "bench/baseline/server.ts",
    port,
    nodeArgs,
    env: childEnv({
      NODE_ENV: "production",
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      DB_POOL_SIZE: OURS_SETTINGS.MODBOX_DB_POOL_SIZE,
      BASELINE_CIPHERTEXT: envelope,
      BASELINE_KEY_ID: env.cipher.keyIdOf(envelope),
      BASELINE_ENCRYPTION_KEY: env.rawKeyBase64,
    }),
  });
}

function loadSpec(env: Environment, scenario: HttpScenario, seed: SeedResult): LoadSpec {
  return {
    next: scenario.next({
      registryIds: seed.sampleRegistryIds,
      ghcrRegistryIds: seed.sampleGhcrRegistryIds,
      pullableImageIds: seed.samplePullableImageIds,
    }),
    headers: {
      authorization: `Bearer ${scenario.token === "provisioner" ? env.provisionerToken : env.token}`,
      "x-workspace-id": WORKSPACE,
      accept: "application/json",
      ...(scenario.kind === "write" && { "content-type": "application/json" }),
    },
  };
}

/** Warm-up of both, then `rounds` alternating rounds (baseline first, then ours first, …). */
async function measurePair(
  env: Environment,
  scenario: HttpScenario,
  servers: { ours: ServerProcess; baseline: ServerProcess },
  seed: SeedResult,
): Promise<{ ours: LoadResult; baseline: LoadResult }> {
  const spec = () => loadSpec(env, scenario, seed);
  await runLoad(servers.ours, spec(), plan.warmup);
  await runLoad(servers.baseline, spec(), plan.warmup);
  const runs: { ours: LoadRun[]; baseline: LoadRun[] } = { ours: [], baseline: [] };
  for (let r = 0; r < plan.rounds; r++) {
    const order = r % 2 === 0 ? (["baseline", "ours"] as const) : (["ours", "baseline"] as const);
    for (const side of order) runs[side].push(await runLoad(servers[side], spec(), plan.measure));
  }
  return { ours: mergeLoads(runs.ours), baseline: mergeLoads(runs.baseline) };
}

function judged(scenario: HttpScenario, workspaceRegistries: number, pair: { ours: LoadResult; baseline: LoadResult }): MeasuredScenario {
  const rpsTarget = scenario.kind === "read" ? TARGETS.readThroughput : TARGETS.writeThroughput;
  const r = {
    rps: ratio(pair.ours.rps, pair.baseline.rps),
    p50: ratio(pair.ours.p50, pair.baseline.p50),
    p99: ratio(pair.ours.p99, pair.baseline.p99),
    cpuPerRequest:
      pair.ours.cpuMsPerRequest !== null && pair.baseline.cpuMsPerRequest !== null
        ? ratio(pair.ours.cpuMsPerRequest, pair.baseline.cpuMsPerRequest)
        : null,
  };
  const pass = { rps: r.rps >= rpsTarget, p99: r.p99 <= TARGETS.p99, all: false };
  pass.all = pass.rps && pass.p99;
  return {
    id: scenario.id,
    title: scenario.title(workspaceRegistries),
    status: "measured",
    workspaceRegistries,
    ours: pair.ours,
    baseline: pair.baseline,
    ratio: r,
    target: { rpsAtLeast: rpsTarget, p99AtMost: TARGETS.p99 },
    pass,
  };
}

function describe(s: MeasuredScenario): string {
  const side = (x: LoadResult) =>
    `${Math.round(x.rps)} req/s p50 ${x.p50} p99 ${x.p99} ms cpu ${x.cpuMsPerRequest ?? "?"} ms/req${x.errors ? ` (${x.errors} errors)` : ""}`;
  return `${s.title}: ours ${side(s.ours)} | baseline ${side(s.baseline)} | ratio ${s.ratio.rps}`;
}

/**
 * Start-up, one cold process at a time, on PostgreSQL (a new empty database per run) and on the
 * embedded PGlite (a new data dir per run): `npm start`'s tsx server, judged against its targets,
 * and with `withBuilt` the production build beside it, runs alternating, judged by ratio only.
 * In full mode a first untimed start of each warms tsx's transpile cache and the file cache.
 */
async function measureStartup(env: Environment, withBuilt: boolean): Promise<StartupResults> {
  const pgVars = {
    NODE_ENV: "production",
    MODBOX_LOG_LEVEL: "warn",
    MODBOX_ENCRYPTION_KEYS: env.keysSpec,
    MODBOX_BOOTSTRAP_TOKEN: env.token,
  };
  const freshDb = async () => {
    const db = await createPostgresTestDatabase(env.adminUrl);
    return { url: db.url, drop: () => db.drop() };
  };
  let deployed: DeployedServer | undefined;
  try {
    const subjects: StartupSubject[] = [FROM_SOURCES];
    if (withBuilt) {
      log("start-up: building (pnpm build of crypto and server) and deploying (pnpm deploy --prod) the server");
      deployed = await buildAndDeployServer();
      log(`start-up: built in ${Math.round(deployed.buildMs)} ms, deployed in ${Math.round(deployed.deployMs)} ms`);
      subjects.push(builtSubject(deployed.dir));
    }
    log(`start-up: PostgreSQL and embedded PGlite${withBuilt ? ", tsx and built" : ""}`);
    if (plan.mode === "full") await startupPostgres(1, freshDb, pgVars, subjects);
    const [pgTsx, pgBuilt] = await startupPostgres(plan.startupRuns, freshDb, pgVars, subjects);
    const [liteTsx, liteBuilt] = await startupPglite(plan.startupRuns, subjects);
    log(`start-up: PostgreSQL ${pgTsx!.readyMs} ms, PGlite ${liteTsx!.readyMs} ms`);
    const result: StartupResults = {
      pglite: { ...liteTsx!, targetMs: TARGETS.readyPgliteMs, pass: liteTsx!.readyMs <= TARGETS.readyPgliteMs },
      postgres: { ...pgTsx!, targetMs: TARGETS.readyPostgresMs, pass: pgTsx!.readyMs <= TARGETS.readyPostgresMs },
    };
    if (deployed) {
      const built = { pglite: liteBuilt!, postgres: pgBuilt! };
      log(`start-up, built: PostgreSQL ${built.postgres.readyMs} ms, PGlite ${built.pglite.readyMs} ms`);
      result.built = { buildMs: Math.round(deployed.buildMs), deployMs: Math.round(deployed.deployMs), ...built, ratio: builtRatios(result, built) };
    }
    return result;
  } finally {
    await deployed?.remove();
  }
}

// --- the full (or smoke) run ------------------------------------------------------------------

async function runAll(): Promise<BenchResults> {
  const startedAt = new Date();
  const loadAtStart = loadavg().map((v) => Math.round(v * 100) / 100);
  log(`mode ${plan.mode}; load average ${loadAtStart.join(" ")}`);

  log("crypto: @modbox/crypto vs raw node:crypto");
  const crypto = runCryptoBench(plan.crypto.opsPerRound, plan.crypto.rounds);

  const env = await setUp();
  try {
    const main = await seeded(env, "main", plan.seed.main);
    const small = await seeded(env, "small", plan.seed.small);
    const large = await seeded(env, "large", plan.seed.large);

    // Main database: every scenario, then the SDK comparison.
    const scenarios: ScenarioResult[] = [];
    const scaleRaw = new Map<string, { small?: { ours: LoadResult; baseline: LoadResult }; large?: { ours: LoadResult; baseline: LoadResult } }>();
    let sdk;
    {
      const servers = { ours: await startOurs(env, main.db.url), baseline: await startBaseline(env, main.db.url) };
      try {
        for (const scenario of HTTP_SCENARIOS) {
          const result = judged(scenario, main.registries, await measurePair(env, scenario, servers, main.seed));
          scenarios.push(result);
          log(describe(result));
        }
        log("sdk: @modbox/sdk vs raw fetch");
        sdk = await runSdkBenchInChild(servers.ours.url, env.token, WORKSPACE, plan.sdk.calls, plan.sdk.warmup);
      } finally {
        await servers.ours.stop();
        await servers.baseline.stop();
      }
    }
    scenarios.push(...PENDING_SCENARIOS);

    // The framework floor: no database, so it needs none of the seeded data.
    log("framework floor: node:http vs Express vs Express + OpenAPI validation, fixed answer");
    const floor = await runFrameworkFloor(findFreePort, { warmup: plan.warmup, measure: plan.measure, rounds: plan.rounds });
    log(
      `framework floor, CPU ms/req: ${Object.entries(floor)
        .map(([variant, result]) => `${variant} ${result.cpuMsPerRequest ?? "?"}`)
        .join(", ")}`,
    );

    // Scale: list and get at the small and the large workspace.
    for (const [size, data] of [["small", small], ["large", large]] as const) {
      const servers = { ours: await startOurs(env, data.db.url), baseline: await startBaseline(env, data.db.url) };
      try {
        for (const id of SCALE_SCENARIO_IDS) {
          const scenario = HTTP_SCENARIOS.find((s) => s.id === id)!;
          const pair = await measurePair(env, scenario, servers, data.seed);
          scaleRaw.set(id, { ...scaleRaw.get(id), [size]: pair });
          log(`scale ${id} @ ${data.registries}: ${describe(judged(scenario, data.registries, pair))}`);
        }
      } finally {
        await servers.ours.stop();
        await servers.baseline.stop();
      }
    }
    log("key rotation under load");
    const rotation = await runRotation(env);
    log("forged tokens: a real client's latency under attack");
    const forgedTokens = await runForgedTokens(env);
    log("idempotency: create with a fresh Idempotency-Key vs without");
    const idempotency = await runIdempotency(env);

    const scale: ScaleResult[] = SCALE_SCENARIO_IDS.map((id) => {
      const raw = scaleRaw.get(id)!;
      const side = (which: "ours" | "baseline") => ({
        small: raw.small![which],
        large: raw.large![which],
        p50Ratio: ratio(raw.large![which].p50, raw.small![which].p50),
        cpuRatio:
          raw.large![which].cpuMsPerRequest !== null && raw.small![which].cpuMsPerRequest !== null
            ? ratio(raw.large![which].cpuMsPerRequest!, raw.small![which].cpuMsPerRequest!)
            : null,
      });
      const ours = side("ours");
      return {
        id,
        title: HTTP_SCENARIOS.find((s) => s.id === id)!.title(plan.seed.main).replace(/ out of .*/, ""),
        smallRows: plan.seed.small,
        largeRows: plan.seed.large,
        ours,
        baseline: side("baseline"),
        target: { p50RatioAtMost: TARGETS.scaleP50 },
        pass: ours.p50Ratio <= TARGETS.scaleP50,
      };
    });

    const startup = await measureStartup(env, plan.mode === "full");

    const finishedAt = new Date();
    const partial: Omit<BenchResults, "summary"> = {
      schema: 1,
      mode: plan.mode,
      command: args.smoke ? "pnpm bench:smoke" : "pnpm bench",
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      revision: revision(),
      machine: {
        nproc: nproc(),
        cpuModel: cpus()[0]?.model.trim() ?? "?",
        memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
        node: process.version,
        platform: `${type()} ${release()}`,
        postgres: env.postgresVersion,
        loadGenerator: "autocannon 9.0.0 (in the bench process; each server in its own process)",
        loadAverage: { atStart: loadAtStart, atEnd: loadavg().map((v) => Math.round(v * 100) / 100) },
      },
      settings: {
        connections: plan.connections,
        rounds: plan.rounds,
        warmup: { amount: plan.warmup.amount, maxSeconds: plan.warmup.maxSeconds },
        measure: { amount: plan.measure.amount, maxSeconds: plan.measure.maxSeconds },
        seed: {
          small: plan.seed.small,
          main: plan.seed.main,
          large: plan.seed.large,
          otherWorkspaces: plan.seed.otherWorkspaces,
          beside: "per scale: the same number again, spread over the other workspaces",
        },
        ours: OURS_SETTINGS,
        baseline: "bench/baseline/server.ts: node:http + postgres.js (prepared statements), same SQL, pool 10",
      },
      seeding: [main, small, large].map((d) => ({
        database: d.label,
        registries: d.seed.totalRegistries,
        images: d.seed.totalImages,
        seconds: Math.round(d.seed.seconds * 10) / 10,
      })),
      scenarios,
      scale,
      crypto: { ...crypto, target: TARGETS.crypto, pass: crypto.encrypt.ratio >= TARGETS.crypto && crypto.decrypt.ratio >= TARGETS.crypto },
      sdk: { ...sdk!, target: TARGETS.sdk, pass: sdk!.ratio <= TARGETS.sdk },
      frameworkFloor: {
        variants: floor,
        ceilings: Object.fromEntries(
          scenarios.flatMap((s) => (s.status === "measured" ? [[s.id, expressCeiling(floor, s.baseline.cpuMsPerRequest)]] : [])),
        ),
      },
      startup,
      rotation,
      forgedTokens,
      idempotency,
    };
    const checks = checksOf(partial);
    const failed = checks.filter((c) => !c.pass).map((c) => c.name);
    return { ...partial, summary: { checks: checks.length, passed: checks.length - failed.length, failed: failed.length, failedChecks: failed } };
  } finally {
    await env.cleanup();
  }
}

// --- profile mode -----------------------------------------------------------------------------

async function runProfile(scenarioId: string, side: "ours" | "baseline"): Promise<void> {
  const scenario = HTTP_SCENARIOS.find((s) => s.id === scenarioId);
  if (!scenario) throw new Error(`--profile: no scenario "${scenarioId}" (one of ${HTTP_SCENARIOS.map((s) => s.id).join(", ")})`);
  // Node writes one profile per thread (tsx's loader runs in a worker): a fresh directory per
  // run, then the main thread's file (thread id 0 in Node's default file name).
  const dir = join(REPO_ROOT, "bench/results/profiles", `${side}-${scenario.id}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const env = await setUp();
  try {
    const main = await seeded(env, "main", plan.seed.main);
    const profiler = ["--cpu-prof", "--cpu-prof-dir", dir];
    const ours = side === "ours" ? await startOurs(env, main.db.url, profiler) : await startBaseline(env, main.db.url, profiler);
    let result: LoadResult;
    let window: { startUs: number; endUs: number };
    try {
      const spec = () => loadSpec(env, scenario, main.seed);
      await runLoad(ours, spec(), plan.warmup);
      const startUs = Number(process.hrtime.bigint() / 1000n);
      result = mergeLoads([await runLoad(ours, spec(), { ...plan.measure, maxSeconds: plan.measure.maxSeconds * 2 })]);
      window = { startUs, endUs: Number(process.hrtime.bigint() / 1000n) };
    } finally {
      await ours.stop(); // SIGTERM: the server closes and exits 0, so node writes the profile
    }
    log(`profiled ${side} ${scenario.id}: ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
    const mainThread = readdirSync(dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (!mainThread) throw new Error(`no main-thread profile in ${dir}: ${readdirSync(dir).join(", ")}`);
    const summary = { ...summarizeProfile(join(dir, mainThread), window), file: relative(REPO_ROOT, join(dir, mainThread)) };
    const md = profileMarkdown(`${side === "ours" ? "our server" : "the baseline"}, ${scenario.title(main.registries)} (${Math.round(result.rps)} req/s under --cpu-prof)`, summary);
    const stem = `profile-${side === "ours" ? "" : "baseline-"}${scenario.id}`;
    writeFileSync(join(REPO_ROOT, `bench/results/${stem}.md`), md);
    writeFileSync(join(REPO_ROOT, `bench/results/${stem}.json`), `${JSON.stringify({ load: result, profile: summary }, null, 2)}\n`);
    process.stdout.write(`${md}\n`);
  } finally {
    await env.cleanup();
  }
}

/** The commit measured, and whether the server's sources differed from it (work in progress). */
function revision(): { commit: string; uncommittedServerChanges: number } {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const status = execFileSync("git", ["status", "--porcelain", "--", "packages", "openapi.yaml"], { cwd: REPO_ROOT, encoding: "utf8" });
    return { commit, uncommittedServerChanges: status.split("\n").filter(Boolean).length };
  } catch {
    return { commit: "?", uncommittedServerChanges: 0 };
  }
}

function nproc(): number {
  try {
    return Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    return cpus().length;
  }
}

// --- entry ------------------------------------------------------------------------------------

/** `--only rotation`: that scenario alone, printed, its JSON to --out or a temp file. */
async function runOnlyRotation(): Promise<void> {
  const env = await setUp();
  let result: RotationResult;
  try {
    result = await runRotation(env);
  } finally {
    await env.cleanup();
  }
  const out = args.out ?? join(tmpdir(), `modbox-bench-rotation-${process.pid}.json`);
  const checks = rotationChecks(result);
  writeFileSync(
    out,
    `${JSON.stringify({ mode: plan.mode, command: `node --import tsx bench/run.ts${args.smoke ? " --smoke" : ""} --only rotation`, finishedAt: new Date().toISOString(), revision: revision(), rotation: result, checks }, null, 2)}\n`,
  );
  process.stdout.write(`${rotationMarkdown(result).join("\n")}\n\n${checks.filter((c) => c.pass).length} of ${checks.length} checks pass.\n\nresults: ${out}\n`);
}

/** `--only forged-tokens`: that scenario alone, printed, its JSON to --out or a temp file. */
async function runOnlyForgedTokens(): Promise<void> {
  const env = await setUp();
  let result: ForgedTokensResult;
  try {
    result = await runForgedTokens(env);
  } finally {
    await env.cleanup();
  }
  const out = args.out ?? join(tmpdir(), `modbox-bench-forged-tokens-${process.pid}.json`);
  const checks = forgedTokensChecks(result);
  writeFileSync(
    out,
    `${JSON.stringify({ mode: plan.mode, command: `node --import tsx bench/run.ts${args.smoke ? " --smoke" : ""} --only forged-tokens`, finishedAt: new Date().toISOString(), revision: revision(), forgedTokens: result, checks }, null, 2)}\n`,
  );
  process.stdout.write(`${forgedTokensMarkdown(result).join("\n")}\n\n${checks.filter((c) => c.pass).length} of ${checks.length} checks pass.\n\nresults: ${out}\n`);
}

/** `--only idempotency`: that scenario alone, printed, its JSON to --out or a temp file. */
async function runOnlyIdempotency(): Promise<void> {
  const env = await setUp();
  let result: IdempotencyResult;
  try {
    result = await runIdempotency(env);
  } finally {
    await env.cleanup();
  }
  const out = args.out ?? join(tmpdir(), `modbox-bench-idempotency-${process.pid}.json`);
  const checks = idempotencyChecks(result);
  writeFileSync(
    out,
    `${JSON.stringify({ mode: plan.mode, command: `node --import tsx bench/run.ts${args.smoke ? " --smoke" : ""} --only idempotency`, finishedAt: new Date().toISOString(), revision: revision(), loadAverage: loadavg().map((v) => Math.round(v * 100) / 100), idempotency: result, checks }, null, 2)}\n`,
  );
  process.stdout.write(`${idempotencyMarkdown(result).join("\n")}\n\n${checks.filter((c) => c.pass).length} of ${checks.length} checks pass.\n\nresults: ${out}\n`);
}

/** `--only startup`: start-up of the tsx and the built server alone, printed, its JSON to --out or a temp file. */
async function runOnlyStartup(): Promise<void> {
  const env = await setUp();
  let result: StartupResults;
  try {
    result = await measureStartup(env, true);
  } finally {
    await env.cleanup();
  }
  const out = args.out ?? join(tmpdir(), `modbox-bench-startup-${process.pid}.json`);
  const checks = startupChecks(result);
  writeFileSync(
    out,
    `${JSON.stringify({ mode: plan.mode, command: `node --import tsx bench/run.ts${args.smoke ? " --smoke" : ""} --only startup`, finishedAt: new Date().toISOString(), revision: revision(), loadAverage: loadavg().map((v) => Math.round(v * 100) / 100), startup: result, checks }, null, 2)}\n`,
  );
  process.stdout.write(`${startupMarkdown(result).join("\n")}\n\n${checks.filter((c) => c.pass).length} of ${checks.length} checks pass.\n\nresults: ${out}\n`);
}

const ALONE: Record<string, () => Promise<void>> = {
  rotation: runOnlyRotation,
  "forged-tokens": runOnlyForgedTokens,
  idempotency: runOnlyIdempotency,
  startup: runOnlyStartup,
};

try {
  if (args.only !== undefined) {
    const only = ALONE[args.only];
    if (!only) throw new Error(`--only: "${args.only}" is not a scenario that runs alone (${Object.keys(ALONE).join(", ")})`);
    await only();
  } else if (args.profile) {
    if (args.side !== "ours" && args.side !== "baseline") throw new Error("--side is ours or baseline");
    await runProfile(args.profile, args.side);
  } else {
    const results = await runAll();
    const out =
      args.out ??
      (plan.mode === "smoke" ? join(tmpdir(), `modbox-bench-smoke-${process.pid}.json`) : join(REPO_ROOT, "bench/results/latest.json"));
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    if (plan.mode === "full" && !args.out) writeBenchmarksMd(join(REPO_ROOT, "BENCHMARKS.md"), results);
    process.stdout.write(`${resultsMarkdown(results)}\n\nresults: ${out}\n`);
  }
  process.exit(0);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  await stopAllChildren();
  process.exit(1);
}
