/**
 * A real client under a forged-token attack: its median latency on an authenticated GET while
 * 32 keep-alive connections send random, checksum-valid tokens, as a ratio to its median alone.
 *
 * The checksum of a token is a public CRC-32, so a forged token passes the cheap check and only a
 * lookup can tell it is unknown; without a defence, each one costs a database query. Here the
 * forgers connect from their own loopback address (127.0.0.2; the real client uses 127.0.0.1),
 * as an attacker on another host would, so the server's per-address failure limit
 * (MODBOX_AUTH_FAILURES_PER_ADDRESS, at its default) counts them and not the client: after their
 * first failures they get 429 without a query, and the client's cached token keeps working.
 *
 * Our server runs in production settings on a seeded database holding one stored workspace token
 * (the real client's, so it goes through the token cache as a real client's would; the bench's
 * bootstrap token never does). The client is one keep-alive connection sending GETs of random
 * registries one after another (autocannon, in the bench process); the forgers are a child
 * process (forger.ts), so their work never shares the event loop the client's latencies are
 * taken on. Rounds alternate: the client alone, then under attack (the first `rampSeconds` of an
 * attack are not measured). With `reference`, the same is measured, for comparison and without a
 * target, on a server whose 429s are sent at once (MODBOX_AUTH_FAILURE_DELAY_MS=0) and on one
 * with the failure limit off (what the token caches alone leave).
 */
import postgres from "postgres";
import { generateApiToken, hashApiToken } from "../../packages/server/src/auth/api-token.js";
import { mergeLoads, runLoad, type LoadBounds, type LoadResult, type LoadRun, type LoadSpec } from "./load.js";
import { childEnv, runScript, sleep, type ServerProcess } from "./processes.js";
import type { SeedResult } from "./seed.js";
import { ratio } from "./stats.js";
import { round } from "./stats.js";
import { TARGETS } from "./targets.js";

export interface ForgedTokensPlan {
  /** Registries in the workspace the client reads. */
  registries: number;
  forgerConnections: number;
  /** Seconds the client is measured, alone and under attack, per round. */
  seconds: number;
  /** Seconds of attack before the client is measured (the forgers' first failures reach the database). */
  rampSeconds: number;
  rounds: number;
  /** Also measure servers without the hold and without the failure limit (for comparison). */
  reference: boolean;
}

export const FORGED_TOKENS_PLANS: Record<"full" | "smoke", ForgedTokensPlan> = {
  full: { registries: 10_000, forgerConnections: 32, seconds: 8, rampSeconds: 1, rounds: 2, reference: true },
  smoke: { registries: 200, forgerConnections: 32, seconds: 1, rampSeconds: 0.5, rounds: 1, reference: false },
};

/** The failure limit the measured server runs with: the defaults of config.ts, stated here. */
export const FAILURE_LIMIT = { perAddress: 20, windowSeconds: 60, delayMs: 1_000 };
export const CLIENT_ADDRESS = "127.0.0.1";
export const FORGER_ADDRESS = "127.0.0.2";

export interface ForgedTokensDeps {
  log(message: string): void;
  /** A fresh database seeded with `registries` in the workspace under test. */
  seed(registries: number): Promise<{ url: string; seed: SeedResult }>;
  /** Our server on that database, production settings, plus these variables. */
  startServer(databaseUrl: string, env: Readonly<Record<string, string>>): Promise<ServerProcess>;
  workspaceId: string;
  warmup: LoadBounds;
}

export interface ForgerStats {
  requests: number;
  rps: number;
  statuses: Record<string, number>;
  /** Forgeries answered 401: each was looked up in the database (429s never are). */
  reachedDatabase: number;
}

export interface AttackComparison {
  idle: LoadResult;
  attack: LoadResult;
  /** attack ÷ idle. */
  ratio: { p50: number; p99: number };
  forgers: ForgerStats;
  /** Server CPU time per second of the client's window (1 = a whole core), alone and under attack; null off Linux. */
  serverCpuCores: { idle: number | null; attack: number | null };
}

export interface ForgedTokensResult {
  registries: number;
  forgerConnections: number;
  clientAddress: string;
  forgerAddress: string;
  failureLimit: { perAddress: number; windowSeconds: number; delayMs: number };
  seconds: number;
  rounds: number;
  /** With the failure limit at its default: the figure judged. */
  limited: AttackComparison;
  /** For comparison, not judged: the 429 sent at once, and the failure limit off. */
  references: { label: string; settings: Record<string, string>; comparison: AttackComparison }[];
  target: { p50RatioAtMost: number };
  pass: boolean;
}

export async function runForgedTokensBench(deps: ForgedTokensDeps, plan: ForgedTokensPlan): Promise<ForgedTokensResult> {
  const { url, seed } = await deps.seed(plan.registries);
  const token = generateApiToken();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Stored as the server stores tokens: only the SHA-256 of the whole token.
    await sql`insert into api_tokens (id, name, token_hash, scope, workspace_ids, created_at)
      values (gen_random_uuid(), 'bench-real-client', ${hashApiToken(token)}, 'workspace', array[${deps.workspaceId}]::text[], now())`;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const ids = seed.sampleRegistryIds;
  const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
  const client = (): LoadSpec => ({
    next: () => ({ method: "GET", path: `/registries/${pick()}` }),
    headers: { authorization: `Bearer ${token}`, "x-workspace-id": deps.workspaceId, accept: "application/json" },
  });

  const measure = async (settings: Readonly<Record<string, string>>, label: string): Promise<AttackComparison> => {
    const server = await deps.startServer(url, settings);
    try {
      await runLoad(server, client(), { ...deps.warmup, connections: 1 });
      const idle: LoadRun[] = [];
      const attack: LoadRun[] = [];
      const forgers: ForgerStats[] = [];
      const cpu = { idle: { ms: 0, seconds: 0 }, attack: { ms: 0, seconds: 0 } };
      const bounds: LoadBounds = { connections: 1, amount: 1_000_000, maxSeconds: plan.seconds };
      for (let r = 0; r < plan.rounds; r++) {
        const quiet = await runLoad(server, client(), bounds);
        idle.push(quiet);
        cpu.idle.ms += quiet.cpuMs ?? Number.NaN;
        cpu.idle.seconds += quiet.result.seconds;

        const { run, stats, cpuMs } = await underAttack(server, plan, deps, () => runLoad(server, client(), bounds));
        attack.push(run);
        forgers.push(stats);
        cpu.attack.ms += cpuMs ?? Number.NaN;
        cpu.attack.seconds += run.result.seconds;
        deps.log(
          `forged tokens (${label}), round ${r + 1}: client p50 ${quiet.result.p50} ms alone, ${run.result.p50} ms under attack; ` +
            `forgers ${Math.round(stats.rps)} req/s (${Object.entries(stats.statuses).map(([s, n]) => `${n} × ${s}`).join(", ")})`,
        );
      }
      const idleResult = mergeLoads(idle);
      const attackResult = mergeLoads(attack);
      const cores = (x: { ms: number; seconds: number }) => (Number.isFinite(x.ms) && x.seconds > 0 ? round(x.ms / 1000 / x.seconds, 2) : null);
      return {
        idle: idleResult,
        attack: attackResult,
        ratio: { p50: ratio(attackResult.p50, idleResult.p50), p99: ratio(attackResult.p99, idleResult.p99) },
        forgers: mergeForgers(forgers),
        serverCpuCores: { idle: cores(cpu.idle), attack: cores(cpu.attack) },
      };
    } finally {
      await server.stop();
    }
  };

  const limited = await measure(
    {
      MODBOX_AUTH_FAILURES_PER_ADDRESS: String(FAILURE_LIMIT.perAddress),
      MODBOX_AUTH_FAILURE_WINDOW_SECONDS: String(FAILURE_LIMIT.windowSeconds),
      MODBOX_AUTH_FAILURE_DELAY_MS: String(FAILURE_LIMIT.delayMs),
    },
    `limit ${FAILURE_LIMIT.perAddress} per ${FAILURE_LIMIT.windowSeconds} s, held ${FAILURE_LIMIT.delayMs} ms`,
  );
  const references: ForgedTokensResult["references"] = [];
  if (plan.reference) {
    for (const [label, settings] of [
      ["429 sent at once (MODBOX_AUTH_FAILURE_DELAY_MS=0)", { MODBOX_AUTH_FAILURE_DELAY_MS: "0" }],
      ["failure limit off (MODBOX_AUTH_FAILURES_PER_ADDRESS=0)", { MODBOX_AUTH_FAILURES_PER_ADDRESS: "0" }],
    ] as const) {
      references.push({ label, settings, comparison: await measure(settings, label) });
    }
  }
  return {
    registries: seed.totalRegistries,
    forgerConnections: plan.forgerConnections,
    clientAddress: CLIENT_ADDRESS,
    forgerAddress: FORGER_ADDRESS,
    failureLimit: FAILURE_LIMIT,
    seconds: plan.seconds,
    rounds: plan.rounds,
    limited,
    references,
    target: { p50RatioAtMost: TARGETS.forgedTokensP50 },
    pass: limited.idle.errors === 0 && limited.attack.errors === 0 && limited.ratio.p50 <= TARGETS.forgedTokensP50,
  };
}

/** Starts the forgers, waits until they send and `rampSeconds` more, runs `load`, then lets them stop. */
async function underAttack(
  server: ServerProcess,
  plan: ForgedTokensPlan,
  deps: ForgedTokensDeps,
  load: () => Promise<LoadRun>,
): Promise<{ run: LoadRun; stats: ForgerStats; cpuMs: number | null }> {
  let started: () => void = () => {};
  const forging = new Promise<void>((resolve) => (started = resolve));
  // The forgers stop by themselves a little after the client's window (and are killed after twice that).
  const forgerSeconds = plan.rampSeconds + plan.seconds + 1;
  const forger = runScript({
    name: "forger",
    script: "bench/lib/forger.ts",
    args: [server.url, `/registries/${"0".repeat(8)}-0000-7000-8000-${"0".repeat(12)}`, deps.workspaceId, String(plan.forgerConnections), String(forgerSeconds), FORGER_ADDRESS],
    env: childEnv({}),
    timeoutMs: (forgerSeconds + 30) * 1000,
    onOutput: (text) => {
      if (text.includes("forging")) started();
    },
  });
  const exited = forger.then(() => started());
  await Promise.race([forging, exited]);
  await sleep(plan.rampSeconds * 1000);
  const run = await load();
  const done = await forger;
  const line = done.stdout.trim().split("\n").at(-1) ?? "";
  let parsed: { requests: number; statuses: Record<string, number>; seconds: number };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    throw new Error(`the forger failed (exit ${done.code}): ${done.stderr.slice(-2_000)}`);
  }
  return {
    run,
    stats: {
      requests: parsed.requests,
      rps: parsed.seconds > 0 ? round(parsed.requests / parsed.seconds, 1) : 0,
      statuses: parsed.statuses,
      reachedDatabase: parsed.statuses["401"] ?? 0,
    },
    cpuMs: run.cpuMs,
  };
}

function mergeForgers(all: ForgerStats[]): ForgerStats {
  const statuses: Record<string, number> = {};
  for (const s of all) for (const [k, v] of Object.entries(s.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const requests = all.reduce((n, s) => n + s.requests, 0);
  return {
    requests,
    rps: round(all.reduce((n, s) => n + s.rps, 0) / Math.max(1, all.length), 1),
    statuses,
    reachedDatabase: all.reduce((n, s) => n + s.reachedDatabase, 0),
  };
}
