/**
 * The results object (written as JSON) and the BENCHMARKS.md table made from it. The targets are
 * in targets.ts; every throughput and latency figure of ours is judged as a ratio to the baseline
 * measured in the same run.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { CryptoResult } from "./crypto-bench.js";
import { FLOOR_VARIANTS, type FloorResult, type FloorVariant } from "./floor.js";
import { ratio } from "./stats.js";

export { ratio };
import type { AttackComparison, ForgedTokensResult } from "./forged-tokens-bench.js";
import type { IdempotencyResult, IdempotencySide } from "./idempotency-bench.js";
import type { LoadResult } from "./load.js";
import type { RotationResult } from "./rotation-bench.js";
import type { SdkResult } from "./sdk-bench.js";
import type { BuiltStartupResult, StartupResult } from "./startup-bench.js";
import { TARGETS } from "./targets.js";


/** Start-up of `npm start` (judged against its targets) and, beside it, of the production build (ratios only). */
export interface StartupResults {
  pglite: StartupResult & { targetMs: number; pass: boolean };
  postgres: StartupResult & { targetMs: number; pass: boolean };
  /** Absent from smoke runs (they never build) and from results of older runs. */
  built?: BuiltStartupResult;
}

export interface MeasuredScenario {
  id: string;
  title: string;
  status: "measured";
  /** Registries in the workspace the scenario ran in. */
  workspaceRegistries: number;
  ours: LoadResult;
  baseline: LoadResult;
  /** ours ÷ baseline; cpuPerRequest is server CPU time per request (null off Linux). */
  ratio: { rps: number; p50: number; p99: number; cpuPerRequest: number | null };
  target: { rpsAtLeast: number; p99AtMost: number };
  pass: { rps: boolean; p99: boolean; all: boolean };
}

export interface PendingScenario {
  id: string;
  title: string;
  status: "pending";
  note: string;
}

export type ScenarioResult = MeasuredScenario | PendingScenario;

export interface ScaleSide {
  small: LoadResult;
  large: LoadResult;
  /** p50 at the large workspace ÷ p50 at the small one. */
  p50Ratio: number;
  /** Server CPU per request at the large workspace ÷ at the small one (robust to machine noise). */
  cpuRatio: number | null;
}

export interface ScaleResult {
  id: string;
  title: string;
  smallRows: number;
  largeRows: number;
  ours: ScaleSide;
  baseline: ScaleSide;
  target: { p50RatioAtMost: number };
  pass: boolean;
}

export interface BenchResults {
  schema: 1;
  mode: "full" | "smoke" | "custom";
  command: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  /** The git commit measured; uncommitted changes under packages/ and openapi.yaml are counted. */
  revision: { commit: string; uncommittedServerChanges: number };
  machine: {
    nproc: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    postgres: string;
    loadGenerator: string;
    /** 1/5/15-minute load averages: other work on the machine shows here. */
    loadAverage: { atStart: number[]; atEnd: number[] };
  };
  settings: {
    connections: number;
    rounds: number;
    warmup: { amount: number; maxSeconds: number };
    measure: { amount: number; maxSeconds: number };
    seed: { small: number; main: number; large: number; otherWorkspaces: number; beside: "per scale: the same number again, spread over the other workspaces" };
    ours: Record<string, string>;
    baseline: string;
  };
  seeding: { database: string; registries: number; images: number; seconds: number }[];
  scenarios: ScenarioResult[];
  scale: ScaleResult[];
  crypto: CryptoResult & { target: number; pass: boolean };
  sdk: SdkResult & { target: number; pass: boolean };
  /** No target: what the framework alone costs, and the ratio it leaves reachable per scenario. */
  frameworkFloor: {
    variants: FloorResult;
    /** Scenario id → best throughput ratio on validated Express with our code free (see floor.ts). */
    ceilings: Record<string, number | null>;
  };
  startup: StartupResults;
  /** `keys rotate` to a new key while our server serves reads and password writes. */
  rotation: RotationResult;
  /** A real client's latency while forged tokens are sent (absent from results of older runs). */
  forgedTokens?: ForgedTokensResult;
  /** Create throughput with a fresh Idempotency-Key per request ÷ without (absent from results of older runs). */
  idempotency?: IdempotencyResult;
  summary: { checks: number; passed: number; failed: number; failedChecks: string[] };
}


/** Every pass/fail check of a results object, flattened: the summary and the smoke test use it. */
export function checksOf(r: Omit<BenchResults, "summary">): { name: string; pass: boolean }[] {
  const checks: { name: string; pass: boolean }[] = [];
  for (const s of r.scenarios) {
    if (s.status !== "measured") continue;
    checks.push({ name: `${s.id}: throughput`, pass: s.pass.rps }, { name: `${s.id}: p99`, pass: s.pass.p99 });
  }
  for (const s of r.scale) checks.push({ name: `scale ${s.id}: p50 ratio`, pass: s.pass });
  checks.push(
    { name: "crypto encrypt", pass: r.crypto.encrypt.ratio >= TARGETS.crypto },
    { name: "crypto decrypt", pass: r.crypto.decrypt.ratio >= TARGETS.crypto },
    { name: "sdk list", pass: r.sdk.pass },
    ...startupChecks(r.startup),
    ...rotationChecks(r.rotation),
    ...(r.forgedTokens ? forgedTokensChecks(r.forgedTokens) : []),
    ...(r.idempotency ? idempotencyChecks(r.idempotency) : []),
  );
  return checks;
}

export function startupChecks(x: StartupResults): { name: string; pass: boolean }[] {
  return [
    { name: "start-up pglite", pass: x.pglite.pass },
    { name: "start-up postgres", pass: x.postgres.pass },
  ];
}

export function idempotencyChecks(x: IdempotencyResult): { name: string; pass: boolean }[] {
  return [
    { name: "idempotency: create throughput with a key ÷ without", pass: x.pass.ratio },
    { name: "idempotency: every keyed create stored and replayable", pass: x.pass.honoured },
  ];
}

export function forgedTokensChecks(x: ForgedTokensResult): { name: string; pass: boolean }[] {
  return [{ name: "forged tokens: client p50 ratio", pass: x.pass }];
}

export function rotationChecks(x: RotationResult): { name: string; pass: boolean }[] {
  return [
    { name: "key rotation: time", pass: x.pass.time },
    { name: "key rotation: failed reads", pass: x.pass.failedReads },
    { name: "key rotation: lost rotations", pass: x.pass.lost },
  ];
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number) => fmt(n, n < 10 ? 2 : 1);
const cpu = (n: number | null) => (n === null ? "?" : n.toFixed(3));
const FLOOR_TITLES: Record<FloorVariant, string> = {
  "node-http": "bare node:http (what the baseline is built on)",
  express: "Express 5, one route, `res.json`",
  "express-validated": "Express 5 + express.json + express-openapi-validator on openapi.yaml (options of app.ts)",
};
const mark = (pass: boolean) => (pass ? "pass" : "**FAIL**");

export function resultsMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(
    `Measured ${r.finishedAt.slice(0, 10)} (${r.startedAt} → ${r.finishedAt}, ${fmt(r.durationSeconds)} s) with \`${r.command}\` on ` +
      `${m.nproc} cores (${m.cpuModel}), ${fmt(m.memoryGiB, 1)} GiB RAM, Node ${m.node}, ${m.platform}, ${m.postgres}; ` +
      `load average ${m.loadAverage.atStart.join(" / ")} at start and ${m.loadAverage.atEnd.join(" / ")} at end; ` +
      `load generator ${m.loadGenerator}, ${r.settings.connections} keep-alive connections, ` +
      `${r.settings.rounds} alternating round(s) per side of ≤ ${fmt(r.settings.measure.amount)} requests / ≤ ${r.settings.measure.maxSeconds} s each ` +
      `after a warm-up of ≤ ${fmt(r.settings.warmup.amount)} requests / ≤ ${r.settings.warmup.maxSeconds} s. ` +
      `Code: commit ${r.revision.commit}${r.revision.uncommittedServerChanges ? ` plus ${r.revision.uncommittedServerChanges} uncommitted file(s) under packages/ and openapi.yaml` : ""}. ` +
      `Result: **${r.summary.passed} of ${r.summary.checks} checks pass**.`,
    "",
    "### HTTP scenarios (ours vs the baseline, same run, same database)",
    "",
    "| scenario | ours req/s | baseline req/s | ratio | target | ours p50 / p99 ms | baseline p50 / p99 ms | p99 ratio | target | server CPU ms/req, ours / baseline | result |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const s of r.scenarios) {
    if (s.status === "pending") {
      lines.push(`| ${s.title} | — | — | — | — | — | — | — | — | — | pending: ${s.note} |`);
      continue;
    }
    const errors = s.ours.errors + s.baseline.errors;
    lines.push(
      `| ${s.title} | ${fmt(s.ours.rps)} | ${fmt(s.baseline.rps)} | ${s.ratio.rps.toFixed(2)} | ≥ ${s.target.rpsAtLeast} | ` +
        `${ms(s.ours.p50)} / ${ms(s.ours.p99)} | ${ms(s.baseline.p50)} / ${ms(s.baseline.p99)} | ${s.ratio.p99.toFixed(2)} | ≤ ${s.target.p99AtMost} | ` +
        `${cpu(s.ours.cpuMsPerRequest)} / ${cpu(s.baseline.cpuMsPerRequest)}${s.ratio.cpuPerRequest === null ? "" : ` (${s.ratio.cpuPerRequest.toFixed(1)}×)`} | ` +
        `${mark(s.pass.rps)} / ${mark(s.pass.p99)}${errors ? ` (${errors} non-2xx!)` : ""} |`,
    );
  }
  lines.push(
    "",
    "### Scale: the same request at a small and a large workspace (p50 large ÷ p50 small)",
    "",
    "| scenario | rows | ours p50 ms (small → large) | ours ratio | baseline p50 ms (small → large) | baseline ratio | ours CPU ms/req (small → large) | ours ÷ baseline req/s (small / large) | target | result |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const s of r.scale) {
    lines.push(
      `| ${s.title} | ${fmt(s.smallRows)} → ${fmt(s.largeRows)} | ${ms(s.ours.small.p50)} → ${ms(s.ours.large.p50)} | ${s.ours.p50Ratio.toFixed(2)} | ` +
        `${ms(s.baseline.small.p50)} → ${ms(s.baseline.large.p50)} | ${s.baseline.p50Ratio.toFixed(2)} | ` +
        `${cpu(s.ours.small.cpuMsPerRequest)} → ${cpu(s.ours.large.cpuMsPerRequest)} | ` +
        `${ratio(s.ours.small.rps, s.baseline.small.rps).toFixed(2)} / ${ratio(s.ours.large.rps, s.baseline.large.rps).toFixed(2)} | ` +
        `≤ ${s.target.p50RatioAtMost} | ${mark(s.pass)} |`,
    );
  }
  const f = r.frameworkFloor;
  lines.push(
    "",
    "### Framework floor (no database, no auth: one fixed registry as JSON; no target, it bounds the ratios above)",
    "",
    "| server (bench/floor/server.ts) | req/s | p50 / p99 ms | CPU ms/req |",
    "|---|---:|---:|---:|",
    ...FLOOR_VARIANTS.map((v) => {
      const x = f.variants[v];
      return `| ${FLOOR_TITLES[v]} | ${fmt(x.rps)} | ${ms(x.p50)} / ${ms(x.p99)} | ${cpu(x.cpuMsPerRequest)}${x.errors ? ` (${x.errors} non-2xx!)` : ""} |`;
    }),
    "",
    "Best throughput ratio reachable on validated Express if our own code cost nothing " +
      "(baseline CPU ÷ (baseline CPU + validated-Express floor − node:http floor), CPU-bound): " +
      r.scenarios
        .flatMap((s) => (s.status === "measured" ? [`${s.id} ${f.ceilings[s.id]?.toFixed(2) ?? "?"}`] : []))
        .join(", ") +
      ".",
  );
  const c = r.crypto;
  const st = r.startup;
  lines.push(
    "",
    "### Crypto, SDK, start-up",
    "",
    "| measure | ours | reference | ratio | target | result |",
    "|---|---:|---:|---:|---:|---|",
    `| encrypt ops/s (@modbox/crypto vs raw node:crypto AES-256-GCM) | ${fmt(c.encrypt.ours)} | ${fmt(c.encrypt.raw)} | ${c.encrypt.ratio.toFixed(2)} | ≥ ${TARGETS.crypto} | ${mark(c.encrypt.ratio >= TARGETS.crypto)} |`,
    `| decrypt ops/s (@modbox/crypto vs raw node:crypto AES-256-GCM) | ${fmt(c.decrypt.ours)} | ${fmt(c.decrypt.raw)} | ${c.decrypt.ratio.toFixed(2)} | ≥ ${TARGETS.crypto} | ${mark(c.decrypt.ratio >= TARGETS.crypto)} |`,
    `| list a page through @modbox/sdk vs raw fetch, mean ms per call (${r.sdk.calls} sequential calls each) | ${ms(r.sdk.sdkMeanMs)} | ${ms(r.sdk.rawMeanMs)} | ${r.sdk.ratio.toFixed(2)} | ≤ ${TARGETS.sdk} | ${mark(r.sdk.pass)} |`,
    ...startupRows(st),
  );
  lines.push("", ...rotationMarkdown(r.rotation));
  if (r.forgedTokens) lines.push("", ...forgedTokensMarkdown(r.forgedTokens));
  if (r.idempotency) lines.push("", ...idempotencyMarkdown(r.idempotency));
  if (r.summary.failedChecks.length) {
    lines.push("", `Short of target: ${r.summary.failedChecks.join("; ")}.`);
  }
  return lines.join("\n");
}

/**
 * The start-up rows of the "Crypto, SDK, start-up" table: `npm start` (tsx) against its targets,
 * then the built server (`node dist/main.js` in a deploy directory) with its ratio to the tsx one.
 */
function startupRows(st: StartupResults): string[] {
  const rows = [
    `| start-up to ready, embedded PGlite, fresh data dir (median of ${st.pglite.runs.length}; RSS at ready ${st.pglite.rssMiB ?? "?"} MiB) | ${fmt(st.pglite.readyMs)} ms | — | — | ≤ ${fmt(st.pglite.targetMs)} ms | ${mark(st.pglite.pass)} |`,
    `| start-up to ready, PostgreSQL, empty database (median of ${st.postgres.runs.length}; RSS at ready ${st.postgres.rssMiB ?? "?"} MiB) | ${fmt(st.postgres.readyMs)} ms | — | — | ≤ ${fmt(st.postgres.targetMs)} ms | ${mark(st.postgres.pass)} |`,
  ];
  const b = st.built;
  if (b) {
    const rss = (built: number | null, tsx: number | null, r: number | null) => `RSS at ready ${built ?? "?"} MiB vs ${tsx ?? "?"} MiB, ${r?.toFixed(2) ?? "?"}×`;
    rows.push(
      `| start-up to ready, **built** (\`node dist/main.js\` in a deploy directory) vs tsx, embedded PGlite (median of ${b.pglite.runs.length}; ${rss(b.pglite.rssMiB, st.pglite.rssMiB, b.ratio.pgliteRss)}) | ${fmt(b.pglite.readyMs)} ms | ${fmt(st.pglite.readyMs)} ms | ${b.ratio.pgliteReady.toFixed(2)} | — | — |`,
      `| start-up to ready, **built** vs tsx, PostgreSQL (median of ${b.postgres.runs.length}; ${rss(b.postgres.rssMiB, st.postgres.rssMiB, b.ratio.postgresRss)}) | ${fmt(b.postgres.readyMs)} ms | ${fmt(st.postgres.readyMs)} ms | ${b.ratio.postgresReady.toFixed(2)} | — | — |`,
    );
  }
  return rows;
}

/** The start-up section alone (what `--only startup` prints). */
export function startupMarkdown(st: StartupResults): string[] {
  const lines = ["### Start-up", "", "| measure | ours | reference | ratio | target | result |", "|---|---:|---:|---:|---:|---|", ...startupRows(st)];
  if (st.built) {
    lines.push("", `Built with \`pnpm build\` (crypto, server) in ${fmt(st.built.buildMs / 1000, 1)} s, deployed with \`pnpm --filter @modbox/server deploy --prod\` in ${fmt(st.built.deployMs / 1000, 1)} s.`);
  }
  return lines;
}

/** The key rotation section (also what `--only rotation` prints). */
export function rotationMarkdown(x: RotationResult): string[] {
  const rot = x.rotation;
  const v = x.verification;
  const b = x.load.before;
  const d = x.load.during;
  const n = (value: number | null) => (value === null ? "?" : fmt(value));
  const failed = Object.entries(x.failedReads.statuses).map(([status, count]) => `${count} × ${status}`).join(", ");
  return [
    `### Key rotation under load (\`${x.command}\` while ours serves get, pull credentials and password PUTs)`,
    "",
    `${fmt(x.registries)} registries in the workspace under test (none beside it; ${fmt(x.images)} images) sealed by the bench's key; ` +
      `our server started with the new key active and the old one to decrypt; batch size ${fmt(x.batchSize)}${x.batchSizeIsDefault ? " (the default)" : ""}. ` +
      `Load: ${x.load.readConnections} keep-alive connections (half get, half pull credentials) from ${fmt(b.seconds, 1)} s before the rotation to after it, ` +
      `and ${x.load.putWorkers} password writer(s) over ${fmt(x.load.putRegistries)} registries from the rotation's start` +
      `${x.load.coveredRotation ? "" : " (**the load did not cover the whole rotation**)"}.`,
    "",
    "| measure | value | target | result |",
    "|---|---:|---:|---|",
    `| every row on the new key: wall time of \`keys rotate\` (spawn to exit; exit code ${rot.exitCode ?? "none"}${rot.timedOut ? ", timed out" : ""}) | ${fmt(rot.wallSeconds, 1)} s | ≤ ${fmt(x.target.seconds)} s | ${mark(x.pass.time)} |`,
    `| re-encrypted by \`keys rotate\` in its own time (the rest were moved by the PUTs first) | ${n(rot.rotated)} in ${rot.seconds === null ? "?" : fmt(rot.seconds, 1)} s (${n(rot.perSecond)} rows/s) | — | |`,
    `| rows off the old key ÷ wall time; CPU of the rotation process | ${fmt(rot.rowsPerWallSecond)} rows/s; ${rot.cpuSeconds === null ? "?" : `${fmt(rot.cpuSeconds, 1)} s`} | — | |`,
    `| reads (get + pull credentials) not 2xx during the rotation (whole load) | ${fmt(x.failedReads.duringRotation)} (${fmt(x.failedReads.wholeLoad)}${failed ? `: ${failed}` : ""}) | ${x.target.failedReads} | ${mark(x.pass.failedReads)} |`,
    `| lost rotations: written registries not holding their last acknowledged password (first written during the rotation) | ${fmt(v.lost)} of ${fmt(v.writtenRegistries)} (${fmt(v.firstWrittenDuringRotation)})${v.unconfirmed ? `; ${v.unconfirmed} hold an unacknowledged one` : ""} | ${x.target.lost} | ${mark(x.pass.lost)} |`,
    `| rows on the old key / on the new key / not decrypting with new,old and their context | ${fmt(v.onOldKey)} / ${fmt(v.onNewKey)} / ${fmt(v.undecryptable + v.keyIdMismatch)} of ${fmt(v.rows)} | 0 / all / 0 | ${mark(v.onOldKey === 0 && v.onNewKey === v.rows && v.undecryptable + v.keyIdMismatch === 0)} |`,
    `| reads/s before → during the rotation (get / pull credentials during) | ${fmt(b.readRps)} → ${fmt(d.readRps)} (${fmt(d.getRps)} / ${fmt(d.pullRps)}) | — | |`,
    `| read p50 / p99 ms before → during | ${ms(b.readP50)} / ${ms(b.readP99)} → ${ms(d.readP50)} / ${ms(d.readP99)} | — | |`,
    `| password PUTs during the rotation: acknowledged/s, p50 / p99 ms, not 2xx (whole load) | ${fmt(d.putRps)}, ${ms(d.putP50)} / ${ms(d.putP99)}, ${fmt(d.putErrors)} (${fmt(x.load.puts.failed)}) | — | |`,
    `| server CPU ms per answered request, before → during | ${cpu(b.serverCpuMsPerRequest)} → ${cpu(d.serverCpuMsPerRequest)} | — | |`,
  ];
}

/** The forged-token section (also what `--only forged-tokens` prints). */
export function forgedTokensMarkdown(x: ForgedTokensResult): string[] {
  const statuses = (c: AttackComparison) =>
    Object.entries(c.forgers.statuses)
      .map(([status, count]) => `${fmt(count)} × ${status}`)
      .join(", ");
  const cores = (n: number | null) => (n === null ? "?" : n.toFixed(2));
  const row = (label: string, c: AttackComparison, judged: boolean) =>
    `| ${label} | ${ms(c.idle.p50)} / ${ms(c.idle.p99)} | ${ms(c.attack.p50)} / ${ms(c.attack.p99)} | ${c.ratio.p50.toFixed(2)} | ` +
    `${judged ? `≤ ${x.target.p50RatioAtMost}` : "—"} | ${fmt(c.forgers.rps)} req/s: ${statuses(c)}; ${fmt(c.forgers.reachedDatabase)} looked up | ` +
    `${cores(c.serverCpuCores.idle)} → ${cores(c.serverCpuCores.attack)} | ` +
    `${judged ? mark(x.pass) : "reference"}${c.idle.errors + c.attack.errors ? ` (${c.idle.errors + c.attack.errors} client non-2xx!)` : ""} |`;
  return [
    `### Forged tokens: a real client's latency while ${x.forgerConnections} connections send random checksum-valid tokens`,
    "",
    `The client (one keep-alive connection, GETs of random registries out of ${fmt(x.registries)}, a stored workspace token) connects from ${x.clientAddress}; ` +
      `the forgers (a process of their own, each request a fresh token from the server's generator) from ${x.forgerAddress}, as from another host, ` +
      `so the failure limit per address (${x.failureLimit.perAddress} per ${x.failureLimit.windowSeconds} s, the 429 held ${x.failureLimit.delayMs} ms: the defaults) counts them and not the client. ` +
      `${x.rounds} round(s) of ${x.seconds} s alone then ${x.seconds} s under attack. A forgery answered 401 was looked up in the database; a 429 was not.`,
    "",
    "| server | client p50 / p99 ms alone | under attack | p50 ratio | target | forgers | server CPU, cores (alone → attack) | result |",
    "|---|---:|---:|---:|---:|---|---:|---|",
    row(`failure limit ${x.failureLimit.perAddress} per ${x.failureLimit.windowSeconds} s, 429 held ${x.failureLimit.delayMs} ms (defaults)`, x.limited, true),
    ...x.references.map((r) => row(`${r.label}, for comparison`, r.comparison, false)),
  ];
}

/** The Idempotency-Key section (also what `--only idempotency` prints). */
export function idempotencyMarkdown(x: IdempotencyResult): string[] {
  const r = x.ratio;
  const side = (label: string, s: IdempotencySide) =>
    `| ${label} | ${fmt(s.rps)} | ${ms(s.p50)} / ${ms(s.p99)} | ${cpu(s.cpuMsPerRequest)} | ${cpu(s.dbCpuMsPerRequest)} | ` +
    `${fmt(s.ok)}${s.errors ? ` (${s.errors} non-2xx!: ${JSON.stringify(s.errorStatuses)})` : ""} |`;
  const extra = (c: { ratio: number; extraMs: number } | null) =>
    c === null ? "?" : `${c.ratio.toFixed(2)} (${c.extraMs >= 0 ? "+" : ""}${c.extraMs.toFixed(3)} ms)`;
  const k = x.keys;
  return [
    "### Idempotency-Key on create: throughput with a fresh key per request ÷ without",
    "",
    `Our server (production settings) on one PostgreSQL database of ${fmt(x.registries)} registries in the workspace and ${fmt(x.registriesBeside)} beside it, ` +
      `the create scenario's requests from ${x.connections} keep-alive connections, without a key and with a fresh random \`Idempotency-Key\` each ` +
      `(an HMAC fingerprint, and the key claimed with its answer in the statement that inserts the registry); ` +
      `${x.rounds} alternating round(s) per side of ≤ ${x.secondsPerRound} s, the order swapped every round, after ${x.warmups} warm-up(s) of each. ` +
      `CPU per answered request: the server process, and PostgreSQL's processes (backends, WAL writer, autovacuum…). ` +
      `Afterwards ${fmt(k.answered)} keys stored with their answer and ${fmt(k.running)} left running, for ${fmt(k.keyedCreates)} keyed creates answered 2xx; ` +
      `a key sent twice was ${k.replayed ? "replayed" : "**not replayed**"}.`,
    "",
    "| creates | req/s | p50 / p99 ms | server CPU ms/req | PostgreSQL CPU ms/req | answered 2xx |",
    "|---|---:|---:|---:|---:|---:|",
    side("without a key", x.withoutKey),
    side("with a fresh Idempotency-Key", x.withKey),
    `| with ÷ without | **${r.rps.toFixed(2)}** (target ≥ ${x.target.rpsRatioAtLeast}: ${mark(x.pass.ratio)}) | ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} | ${extra(r.serverCpu)} | ${extra(r.databaseCpu)} | |`,
    "",
    `Per round, with ÷ without: ${r.perRound.map((v) => v.toFixed(2)).join(", ")} (min ${r.min.toFixed(2)}, median ${r.median.toFixed(2)}, max ${r.max.toFixed(2)}). ` +
      `CPU per request (server + PostgreSQL), without ÷ with: ${r.cpuBound === null ? "?" : r.cpuBound.toFixed(2)} ` +
      `(the throughput ratio where the cores are the limit; steadier than req/s on a shared machine, not judged). ` +
      `Keys honoured: ${mark(x.pass.honoured)}.`,
  ];
}

export const RESULTS_START = "<!-- bench:results:start (generated by `pnpm bench`; edit outside these markers) -->";
export const RESULTS_END = "<!-- bench:results:end -->";

/**
 * Replaces the generated block of BENCHMARKS.md, keeping the hand-written text around it; creates
 * the file (with a short header) when it does not exist.
 */
export function writeBenchmarksMd(file: string, r: BenchResults): void {
  const block = `${RESULTS_START}\n${resultsMarkdown(r)}\n${RESULTS_END}`;
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8");
    const start = text.indexOf(RESULTS_START);
    const end = text.indexOf(RESULTS_END);
    if (start !== -1 && end > start) {
      writeFileSync(file, text.slice(0, start) + block + text.slice(end + RESULTS_END.length));
      return;
    }
    writeFileSync(file, `${text.trimEnd()}\n\n${block}\n`);
    return;
  }
  writeFileSync(file, `# Benchmarks\n\n${block}\n`);
}
