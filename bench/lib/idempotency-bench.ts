/**
 * What an `Idempotency-Key` costs on create: create-registry throughput with a fresh random key
 * per request, as a ratio to the same creates without a key.
 *
 * A keyed create claims its key (INSERT … ON CONFLICT DO NOTHING into idempotency_keys, after an
 * HMAC fingerprint of the request), runs, and stores its answer (UPDATE) before sending it: two
 * statements more than a plain create. A fresh key per request is the cost every SDK create pays
 * (the SDK sends a generated key with each POST); a retry's replay is rarer and not measured.
 *
 * Our server runs once, in production settings, on a database seeded as the create scenario's
 * (the workspace under test plus others beside it, PostgreSQL), and gets the create scenario's
 * requests from the same number of keep-alive connections. Rounds alternate, the order swapped
 * every round (without, with, with, without, …), so that machine noise and the growth of the
 * tables hit both sides alike. Besides req/s, the CPU time per answered request of the server
 * process and of PostgreSQL's processes (read from /proc when PostgreSQL runs on this machine):
 * on a small machine the server, PostgreSQL and the load generator share the cores, so where the
 * extra statements cost shows in both. Afterwards the keys are checked in the database (every
 * keyed 2xx stored its answer, none left running) and one key is sent twice to see it replayed,
 * so a server ignoring the header cannot pass for a cheap one.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { mergeLoads, runLoad, type LoadBounds, type LoadResult, type LoadRun, type LoadSpec } from "./load.js";
import { readCpuMs, type ServerProcess } from "./processes.js";
import { ratio } from "./stats.js";
import type { SeedResult } from "./seed.js";
import { median, round } from "./stats.js";
import { TARGETS } from "./targets.js";

export interface IdempotencyPlan {
  /** Registries in the workspace under test (the create scenario's main database). */
  registries: number;
  /** Rounds per side. */
  rounds: number;
  /** Seconds per round (at most; also bounded by the run's request amount). */
  seconds: number;
  /**
   * Warm-ups of the run's size per side, alternating, before the first round: one left the
   * first measured round 25–50 % dearer in server CPU on a busy machine (the process still warming).
   */
  warmups: number;
}

export const IDEMPOTENCY_PLANS: Record<"full" | "smoke", IdempotencyPlan> = {
  full: { registries: 10_000, rounds: 6, seconds: 5, warmups: 3 },
  smoke: { registries: 200, rounds: 1, seconds: 2, warmups: 1 },
};

export interface IdempotencyDeps {
  log(message: string): void;
  /** A fresh database seeded as the create scenario's, with `registries` in the workspace under test. */
  seed(registries: number): Promise<{ url: string; seed: SeedResult }>;
  /** Our server on that database, production settings (those of the create scenario). */
  startServer(databaseUrl: string): Promise<ServerProcess>;
  /** The create scenario's requests and headers (bench/lib/scenarios.ts), for that seed. */
  createSpec(seed: SeedResult): LoadSpec;
  /** The run's warm-up and measure bounds; `connections` is the create scenario's. */
  warmup: LoadBounds;
  measure: LoadBounds;
}

export interface IdempotencySide extends LoadResult {
  /** CPU time of PostgreSQL's processes per answered request (ms); null when not readable. */
  dbCpuMsPerRequest: number | null;
}

export interface IdempotencyRound {
  order: "without-first" | "with-first";
  without: { rps: number; cpuMsPerRequest: number | null; dbCpuMsPerRequest: number | null };
  with: { rps: number; cpuMsPerRequest: number | null; dbCpuMsPerRequest: number | null };
  /** with ÷ without, req/s, this round. */
  ratio: number;
}

export interface IdempotencyResult {
  registries: number;
  registriesBeside: number;
  connections: number;
  rounds: number;
  secondsPerRound: number;
  warmups: number;
  withoutKey: IdempotencySide;
  withKey: IdempotencySide;
  ratio: {
    /** Pooled: all keyed 2xx over all their time ÷ the same without a key. */
    rps: number;
    /** Per round (pairs of adjacent runs), and their spread. */
    perRound: number[];
    min: number;
    median: number;
    max: number;
    p50: number;
    p99: number;
    /** with ÷ without, server CPU per request, and the difference in ms (null when not readable). */
    serverCpu: { ratio: number; extraMs: number } | null;
    databaseCpu: { ratio: number; extraMs: number } | null;
    /**
     * (server + PostgreSQL CPU per request) without a key ÷ with: the throughput ratio where the
     * cores are the limit, steadier than req/s on a shared machine. Not judged; null when either is unknown.
     */
    cpuBound: number | null;
  };
  roundsDetail: IdempotencyRound[];
  /** The keys in the database afterwards, against the keyed creates answered 2xx (warm-up included). */
  keys: { keyedCreates: number; answered: number; running: number; replayed: boolean };
  target: { rpsRatioAtLeast: number };
  pass: { ratio: boolean; honoured: boolean };
}

const KEY_HEADER = "idempotency-key";

export async function runIdempotencyBench(deps: IdempotencyDeps, plan: IdempotencyPlan): Promise<IdempotencyResult> {
  const { url, seed } = await deps.seed(plan.registries);
  const base = () => deps.createSpec(seed);
  const without = (): LoadSpec => base();
  const keyed = (): LoadSpec => {
    const spec = base();
    return { ...spec, next: () => ({ ...spec.next(), headers: { [KEY_HEADER]: randomUUID() } }) };
  };
  const bounds: LoadBounds = { ...deps.measure, maxSeconds: plan.seconds };
  const meter = await databaseCpuMeter(url);
  let keyedCreates = 0;
  let replayed = false;

  const runs: { without: LoadRun[]; with: LoadRun[] } = { without: [], with: [] };
  const dbCpu: { without: (number | null)[]; with: (number | null)[] } = { without: [], with: [] };
  const roundsDetail: IdempotencyRound[] = [];
  const server = await deps.startServer(url);
  try {
    replayed = await replayWorks(server.url, base());
    keyedCreates++;
    // Both warmed: the keyed path's prepared statements and code are as hot as the plain one's.
    for (let w = 0; w < plan.warmups; w++) {
      await runLoad(server, without(), deps.warmup);
      keyedCreates += (await runLoad(server, keyed(), deps.warmup)).result.ok;
    }

    for (let r = 0; r < plan.rounds; r++) {
      const order = r % 2 === 0 ? (["without", "with"] as const) : (["with", "without"] as const);
      for (const side of order) {
        const before = await meter.read();
        const run = await runLoad(server, side === "with" ? keyed() : without(), bounds);
        const after = await meter.read();
        runs[side].push(run);
        dbCpu[side].push(before && after ? cpuBetween(before, after) : null);
        if (side === "with") keyedCreates += run.result.ok;
      }
      const perSide = (side: "without" | "with") => {
        const run = runs[side][r]!;
        const db = dbCpu[side][r]!;
        return {
          rps: round(run.result.rps, 1),
          cpuMsPerRequest: run.result.cpuMsPerRequest,
          dbCpuMsPerRequest: db === null || run.answered === 0 ? null : round(db / run.answered),
        };
      };
      const detail: IdempotencyRound = {
        order: order[0] === "without" ? "without-first" : "with-first",
        without: perSide("without"),
        with: perSide("with"),
        ratio: ratio(runs.with[r]!.result.rps, runs.without[r]!.result.rps),
      };
      roundsDetail.push(detail);
      deps.log(
        `idempotency, round ${r + 1} (${detail.order}): without a key ${Math.round(detail.without.rps)} req/s ` +
          `(cpu ${detail.without.cpuMsPerRequest ?? "?"} + db ${detail.without.dbCpuMsPerRequest ?? "?"} ms/req), ` +
          `with ${Math.round(detail.with.rps)} req/s (cpu ${detail.with.cpuMsPerRequest ?? "?"} + db ${detail.with.dbCpuMsPerRequest ?? "?"} ms/req); ratio ${detail.ratio}`,
      );
    }
  } finally {
    await server.stop();
    await meter.close();
  }
  // After the server stopped (it finishes what is in flight first): the keys it stored.
  const keys = await keysIn(url);

  const side = (which: "without" | "with"): IdempotencySide => {
    const load = mergeLoads(runs[which]);
    const answered = runs[which].reduce((n, run) => n + run.answered, 0);
    const db = dbCpu[which].every((x) => x !== null) ? dbCpu[which].reduce<number>((n, x) => n + x!, 0) : null;
    return { ...load, dbCpuMsPerRequest: db === null || answered === 0 ? null : round(db / answered) };
  };
  const withoutKey = side("without");
  const withKey = side("with");
  const perRound = roundsDetail.map((r) => r.ratio);
  const compare = (a: number | null, b: number | null) => (a === null || b === null ? null : { ratio: ratio(a, b), extraMs: round(a - b) });
  const pooled = ratio(withKey.rps, withoutKey.rps);
  const honoured =
    replayed && keys.running === 0 && keys.answered >= keyedCreates && withKey.errors === 0 && withoutKey.errors === 0;
  return {
    registries: plan.registries,
    registriesBeside: seed.totalRegistries - plan.registries,
    connections: bounds.connections,
    rounds: plan.rounds,
    secondsPerRound: plan.seconds,
    warmups: plan.warmups,
    withoutKey,
    withKey,
    ratio: {
      rps: pooled,
      perRound,
      min: Math.min(...perRound),
      median: round(median(perRound)),
      max: Math.max(...perRound),
      p50: ratio(withKey.p50, withoutKey.p50),
      p99: ratio(withKey.p99, withoutKey.p99),
      serverCpu: compare(withKey.cpuMsPerRequest, withoutKey.cpuMsPerRequest),
      databaseCpu: compare(withKey.dbCpuMsPerRequest, withoutKey.dbCpuMsPerRequest),
      cpuBound: cpuBound(withoutKey, withKey),
    },
    roundsDetail,
    keys: { keyedCreates, answered: keys.answered, running: keys.running, replayed },
    target: { rpsRatioAtLeast: TARGETS.idempotencyCreate },
    pass: { ratio: pooled >= TARGETS.idempotencyCreate, honoured },
  };
}

function cpuBound(without: IdempotencySide, withKey: IdempotencySide): number | null {
  const total = (s: IdempotencySide) => (s.cpuMsPerRequest === null || s.dbCpuMsPerRequest === null ? null : s.cpuMsPerRequest + s.dbCpuMsPerRequest);
  const a = total(without);
  const b = total(withKey);
  return a === null || b === null ? null : ratio(a, b);
}

/** One create sent twice with one key: the second must be the first's answer, replayed. */
async function replayWorks(baseUrl: string, spec: LoadSpec): Promise<boolean> {
  const shape = spec.next();
  const headers = { ...spec.headers, [KEY_HEADER]: randomUUID() };
  const send = () => fetch(`${baseUrl}${shape.path}`, { method: shape.method, headers, body: shape.body, signal: AbortSignal.timeout(10_000) });
  const first = await send();
  const firstBody = await first.text();
  const second = await send();
  const secondBody = await second.text();
  return first.status === 201 && second.status === 201 && second.headers.get("idempotent-replayed") === "true" && secondBody === firstBody;
}

async function keysIn(url: string): Promise<{ answered: number; running: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ answered: number; running: number }[]>`
      select count(*) filter (where state = 'answered')::int as answered, count(*) filter (where state = 'running')::int as running
      from idempotency_keys`;
    return row ?? { answered: 0, running: 0 };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** CPU ms per process id (PostgreSQL's processes), at one moment. */
type CpuSnapshot = Map<number, number>;

/**
 * CPU used by PostgreSQL's processes between two snapshots: each process's time since the first,
 * the whole time of a process that started in between (a new connection, an autovacuum worker);
 * one that ended in between is missed, which only makes the figure lower.
 */
function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): number {
  let ms = 0;
  for (const [pid, now] of after) ms += Math.max(0, now - (before.get(pid) ?? 0));
  return ms;
}

/**
 * Reads the CPU time of every process of the PostgreSQL server (backends, WAL writer,
 * checkpointer, autovacuum: all pg_stat_activity lists) from /proc. Null when PostgreSQL is not on
 * this machine (a URL not on loopback, or pids that are not `postgres` here).
 */
async function databaseCpuMeter(url: string): Promise<{ read(): Promise<CpuSnapshot | null>; close(): Promise<void> }> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const local = ["127.0.0.1", "localhost", "::1", ""].includes(host) && process.platform === "linux";
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  return {
    async read() {
      if (!local) return null;
      const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where pid <> pg_backend_pid()`;
      const snapshot: CpuSnapshot = new Map();
      for (const { pid } of rows) {
        if (!isPostgres(pid)) continue;
        const ms = readCpuMs(pid);
        if (ms !== null) snapshot.set(pid, ms);
      }
      return snapshot.size > 0 ? snapshot : null;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres";
  } catch {
    return false;
  }
}
