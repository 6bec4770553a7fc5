/**
 * Key rotation under load: `keys rotate` (packages/server/src/keys-cli.ts) re-encrypts every
 * stored password to a new active key while our server serves.
 *
 * A database holds `registries` registries in the workspace under test (nothing beside it, so
 * every row the rotation has to move is one of them), with images and the provisioner token as
 * the main seed, every password sealed by the bench's key K1. Our server starts in production
 * settings with MODBOX_ENCRYPTION_KEYS = K2,K1 (K2 new and active; the start records both keys,
 * which `keys rotate` requires on PostgreSQL). Then, in order:
 *
 *  1. a warm-up of get and pull credentials;
 *  2. the load: get and pull credentials at once (the HTTP scenarios' request builders, half the
 *     connections each), bounded in requests and time; `preSeconds` of it alone;
 *  3. `keys rotate` as a child process, and with it a third stream: password PUTs on every
 *     ghcr.io registry of the rotate half (a known subset, each writer owning its share, in a
 *     shuffled order), recording the last password each registry had acknowledged;
 *  4. `tailSeconds` after the rotation exits, the load stops; then the server;
 *  5. the check in the database: no row left on K1, every row decrypts with a cipher over K2,K1
 *     and its context {workspace_id, registry_id}, and every registry the PUTs wrote holds its
 *     last acknowledged password (otherwise: a lost rotation, a write the rotation overwrote).
 *
 * The PUTs start with the rotation, not before, so the rows they write are still on K1 when the
 * rotation's front passes them (a PUT that arrives first moves its row to K2 and the rotation
 * skips it; one that arrives while a batch holds the row waits for it and writes over it).
 */
import { createCipher, formatKeyringSpec, generateKey, parseKeyringSpec } from "@modbox/crypto";
import postgres from "postgres";
import { credentialContext } from "../../packages/server/src/services/credential-context.js";
import { DEFAULT_ROTATION_BATCH } from "../../packages/server/src/services/key-rotation.js";
import { mergeLoads, runLoad, type LoadBounds, type LoadResult, type LoadSpec } from "./load.js";
import { childEnv, readCpuMs, runScript, sleep, type ServerProcess } from "./processes.js";
import type { SeedResult } from "./seed.js";
import { fakeToken } from "./seed.js";
import { round, summarize } from "./stats.js";
import { TARGETS } from "./targets.js";

export interface RotationPlan {
  /** Registries in the workspace under test, all sealed by K1 (none in other workspaces). */
  registries: number;
  /** `--batch-size`; undefined runs the command's default (what an operator runs). */
  batchSize?: number;
  /** Keep-alive connections of the read load, half get, half pull credentials. */
  readConnections: number;
  /** Concurrent password writers (each one request at a time, over its own registries). */
  putWorkers: number;
  /** Seconds of read load before the rotation starts (the "before" figures). */
  preSeconds: number;
  /** Seconds the load goes on after the rotation has exited. */
  tailSeconds: number;
  /** Hard bounds of the load: seconds, and requests per read stream and per writer. */
  maxSeconds: number;
  maxRequests: number;
  /** The rotation is stopped (SIGTERM, then SIGKILL) after this long. */
  rotationTimeoutSeconds: number;
}

export const ROTATION_PLANS: Record<"full" | "smoke", RotationPlan> = {
  // The command's default batch size (500), as an operator runs it.
  full: {
    registries: 100_000,
    readConnections: 10,
    putWorkers: 2,
    preSeconds: 3,
    tailSeconds: 2,
    maxSeconds: 180,
    maxRequests: 2_000_000,
    rotationTimeoutSeconds: 170,
  },
  // Batches of 50, so that a few hundred rows still take several batches (500 would be one).
  smoke: {
    registries: 400,
    batchSize: 50,
    readConnections: 2,
    putWorkers: 1,
    preSeconds: 1,
    tailSeconds: 0.5,
    maxSeconds: 45,
    maxRequests: 50_000,
    rotationTimeoutSeconds: 40,
  },
};

export interface RotationDeps {
  log(message: string): void;
  /** A fresh database seeded with `registries` in the workspace under test, sealed by K1. */
  seed(registries: number): Promise<{ url: string; seed: SeedResult }>;
  /** Our server on that database, production settings, with this MODBOX_ENCRYPTION_KEYS. */
  startServer(databaseUrl: string, keysSpec: string): Promise<ServerProcess>;
  /** The load of an HTTP scenario (its request builder and headers) on the seeded data. */
  loadSpec(scenarioId: "get" | "pull-credentials", seed: SeedResult): LoadSpec;
  /** MODBOX_ENCRYPTION_KEYS of the bench (K1), the key the seed sealed with. */
  oldKeysSpec: string;
  /** The workspace token and workspace, for the PUTs. */
  token: string;
  workspaceId: string;
  warmup: LoadBounds;
}

/** Answers of a time window: counted by kind, 2xx only for rates and latencies. */
export interface RotationWindow {
  seconds: number;
  /** get + pull credentials answered 2xx, per second. */
  readRps: number;
  getRps: number;
  pullRps: number;
  putRps: number;
  /** Reads (get + pull credentials) not answered 2xx (network errors included). */
  readErrors: number;
  putErrors: number;
  readP50: number;
  readP99: number;
  putP50: number;
  putP99: number;
  /** Server CPU time per answered request (reads and PUTs) in the window; null off Linux. */
  serverCpuMsPerRequest: number | null;
}

export interface RotationResult {
  registries: number;
  images: number;
  seedSeconds: number;
  oldKeyId: string;
  newKeyId: string;
  batchSize: number;
  batchSizeIsDefault: boolean;
  command: string;
  rotation: {
    exitCode: number | null;
    timedOut: boolean;
    /** Spawn of `keys rotate` to its exit (node + tsx start, migrations check, custody, the batches). */
    wallSeconds: number;
    /** Its own figures, from its last line: the batches only. */
    rotated: number | null;
    seconds: number | null;
    perSecond: number | null;
    couldNotOpen: number | null;
    leftOnOtherKeys: number | null;
    /** Rows off K1 by the end (rotated or written by a PUT) ÷ wall seconds. */
    rowsPerWallSecond: number;
    /** CPU of the rotation process (user + system, last sample before it exited); null off Linux. */
    cpuSeconds: number | null;
    /** Its last line on stdout, and (when it failed) the end of its stderr. */
    summaryLine: string;
    stderrTail?: string;
  };
  load: {
    readConnections: number;
    putWorkers: number;
    /** The PUTs' registries (every ghcr.io registry of the rotate half). */
    putRegistries: number;
    /** Whether the load outlasted the rotation: not stopped by its time bound, every stream answering after the rotation's exit. */
    coveredRotation: boolean;
    before: RotationWindow;
    during: RotationWindow;
    get: LoadResult;
    pull: LoadResult;
    puts: { sent: number; acknowledged: number; failed: number; failedStatuses: Record<string, number> };
  };
  /** Reads not answered 2xx during the rotation, and over the whole load. */
  failedReads: { duringRotation: number; wholeLoad: number; statuses: Record<string, number> };
  verification: {
    rows: number;
    onOldKey: number;
    onNewKey: number;
    onOtherKeys: number;
    /** Rows that do not decrypt with K2,K1 and their context. */
    undecryptable: number;
    /** Rows whose envelope names another key than their `password_key_id`. */
    keyIdMismatch: number;
    /** Registries with at least one acknowledged PUT: each must hold its last acknowledged password. */
    writtenRegistries: number;
    /** Of those, registries whose first acknowledged PUT came while the rotation ran. */
    firstWrittenDuringRotation: number;
    /** Registries holding a password other than their last acknowledged one. */
    lost: number;
    /** Registries holding a password whose PUT failed or timed out after the last acknowledgement (not lost: the client never saw it fail for sure). */
    unconfirmed: number;
  };
  /** Seconds allowed for these rows (60 per 100,000, at least 60), failed reads and lost rotations allowed. */
  target: { seconds: number; perRows: number; failedReads: number; lost: number };
  pass: { time: boolean; failedReads: boolean; lost: boolean; all: boolean };
}

const SUMMARY_LINE =
  /^Re-encrypted (\d+) password\(s\) to key (\S+) in ([\d.]+) s \((\d+)\/s\); (\d+) could not be opened; (\d+) left on other keys\.$/m;

interface Tally {
  ok: number;
  errors: number;
  latencies: number[];
}
const tally = (): Tally => ({ ok: 0, errors: 0, latencies: [] });

export async function runRotationBench(deps: RotationDeps, plan: RotationPlan): Promise<RotationResult> {
  const { log } = deps;
  const oldKeyId = parseKeyringSpec(deps.oldKeysSpec).activeKeyId;
  const newKey = generateKey();
  const keysSpec = `${formatKeyringSpec([newKey])},${deps.oldKeysSpec}`;
  const batchSize = plan.batchSize ?? DEFAULT_ROTATION_BATCH;

  const seedStarted = performance.now();
  const { url, seed } = await deps.seed(plan.registries);
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  const server = await deps.startServer(url, keysSpec);
  let serverStopped = false;
  // Stops every stream: after the rotation's tail, at the load's time bound, or on an error.
  const stopLoad = new AbortController();
  let loadDeadline: NodeJS.Timeout | undefined;
  try {
    const getSpec = () => deps.loadSpec("get", seed);
    const pullSpec = () => deps.loadSpec("pull-credentials", seed);
    await runLoad(server, getSpec(), deps.warmup);
    await runLoad(server, pullSpec(), deps.warmup);

    // Answers are counted per phase: before the rotation's spawn, during it, after its exit.
    type Phase = "before" | "during" | "after";
    let phase: Phase = "before";
    const counts: Record<Phase, { get: Tally; pull: Tally; put: Tally; at: number; cpu: number | null }> = {
      before: { get: tally(), pull: tally(), put: tally(), at: 0, cpu: null },
      during: { get: tally(), pull: tally(), put: tally(), at: 0, cpu: null },
      after: { get: tally(), pull: tally(), put: tally(), at: 0, cpu: null },
    };
    const failedReadStatuses: Record<string, number> = {};
    const lastAnswerAt = { get: 0, pull: 0, put: 0 };
    const record = (kind: "get" | "pull" | "put", status: number, at: number, latency: number) => {
      const t = counts[phase][kind];
      lastAnswerAt[kind] = at;
      if (status >= 200 && status < 300) {
        t.ok++;
        t.latencies.push(latency);
      } else {
        t.errors++;
        if (kind !== "put") failedReadStatuses[status || "network"] = (failedReadStatuses[status || "network"] ?? 0) + 1;
      }
    };
    const enter = (next: Phase, at: number) => {
      phase = next;
      counts[next].at = at;
      counts[next].cpu = readCpuMs(server.pid);
    };

    const bounds = (connections: number): LoadBounds => ({ connections, amount: plan.maxRequests, maxSeconds: plan.maxSeconds });
    const readConnections = Math.max(1, Math.floor(plan.readConnections / 2));
    enter("before", performance.now());
    // The URL only (no pid): the two streams overlap, so the server's CPU is read per window below.
    const reads = Promise.all([
      runLoad(server.url, getSpec(), bounds(readConnections), {
        signal: stopLoad.signal,
        onAnswer: (status, at, latency) => record("get", status, at, latency),
      }),
      runLoad(server.url, pullSpec(), bounds(readConnections), {
        signal: stopLoad.signal,
        onAnswer: (status, at, latency) => record("pull", status, at, latency),
      }),
    ]);
    // The hard time bound of everything started here, the writers included.
    loadDeadline = setTimeout(() => stopLoad.abort(), plan.maxSeconds * 1000);

    await sleep(plan.preSeconds * 1000);

    // The writers: every ghcr.io registry of the rotate half, each writer its own share, shuffled.
    const putIds = seed.ghcrRegistryIds;
    const acknowledged = new Map<string, { password: string; at: number; firstAt: number }>();
    const unconfirmedSince = new Map<string, string[]>();
    const putStats = { sent: 0, acknowledged: 0, failed: 0, failedStatuses: {} as Record<string, number> };
    const writer = async (ids: string[]) => {
      if (ids.length === 0) return;
      const headers = {
        authorization: `Bearer ${deps.token}`,
        "x-workspace-id": deps.workspaceId,
        "content-type": "application/json",
        accept: "application/json",
      };
      for (let i = 0; i < plan.maxRequests && !stopLoad.signal.aborted; i++) {
        const id = ids[i % ids.length]!;
        const password = fakeToken();
        const started = performance.now();
        let status = 0;
        putStats.sent++;
        try {
          const res = await fetch(`${server.url}/registries/${id}`, {
            method: "PUT",
            headers,
            body: JSON.stringify({ password }),
            signal: AbortSignal.timeout(10_000),
          });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = 0;
        }
        const at = performance.now();
        record("put", status, at, at - started);
        if (status >= 200 && status < 300) {
          putStats.acknowledged++;
          acknowledged.set(id, { password, at, firstAt: acknowledged.get(id)?.firstAt ?? at });
          unconfirmedSince.delete(id);
        } else {
          // Unknown outcome (a 5xx or a timeout may still have committed): remembered, not lost.
          putStats.failed++;
          putStats.failedStatuses[status || "network"] = (putStats.failedStatuses[status || "network"] ?? 0) + 1;
          unconfirmedSince.set(id, [...(unconfirmedSince.get(id) ?? []), password]);
        }
      }
    };

    const rotateArgs = ["rotate", ...(plan.batchSize === undefined ? [] : ["--batch-size", String(plan.batchSize)])];
    log(`rotation: keys ${rotateArgs.join(" ")} over ${seed.totalRegistries.toLocaleString("en-US")} rows, under get + pull credentials + PUTs on ${putIds.length} registries`);
    let writers: Promise<void> | undefined;
    const rotation = await runScript({
      name: "keys rotate",
      script: "packages/server/src/keys-cli.ts",
      args: rotateArgs,
      env: childEnv({ NODE_ENV: "production", DATABASE_URL: url, MODBOX_ENCRYPTION_KEYS: keysSpec }),
      timeoutMs: plan.rotationTimeoutSeconds * 1000,
      onSpawn: (_pid, at) => {
        enter("during", at);
        writers = Promise.all(
          Array.from({ length: plan.putWorkers }, (_, w) => writer(shuffle(putIds.filter((_, i) => i % plan.putWorkers === w)))),
        ).then(() => {});
      },
    });
    enter("after", rotation.exitedAt);
    const wallSeconds = (rotation.exitedAt - rotation.spawnedAt) / 1000;
    log(`rotation: exit ${rotation.code} after ${wallSeconds.toFixed(1)} s: ${rotation.stdout.trim().split("\n").at(-1) ?? ""}`);

    await sleep(plan.tailSeconds * 1000);
    // Not stopped by its time bound, and every stream (each also bounded in requests) answered
    // after the rotation's exit.
    const coveredRotation =
      !stopLoad.signal.aborted &&
      Object.values(lastAnswerAt).every((at) => at >= rotation.exitedAt);
    stopLoad.abort();
    clearTimeout(loadDeadline);
    const [getRun, pullRun] = await reads;
    await writers;
    await server.stop();
    serverStopped = true;

    const window = (p: "before" | "during", end: number): RotationWindow => {
      const c = counts[p];
      const seconds = (end - c.at) / 1000;
      const next = p === "before" ? counts.during.cpu : counts.after.cpu;
      const answered = c.get.ok + c.get.errors + c.pull.ok + c.pull.errors + c.put.ok + c.put.errors;
      const readLatencies = [...c.get.latencies, ...c.pull.latencies];
      const readSummary = summarize(readLatencies);
      const putSummary = summarize(c.put.latencies);
      const rate = (n: number) => (seconds > 0 ? round(n / seconds, 1) : 0);
      return {
        seconds: round(seconds, 2),
        readRps: rate(c.get.ok + c.pull.ok),
        getRps: rate(c.get.ok),
        pullRps: rate(c.pull.ok),
        putRps: rate(c.put.ok),
        readErrors: c.get.errors + c.pull.errors,
        putErrors: c.put.errors,
        readP50: readSummary.p50,
        readP99: readSummary.p99,
        putP50: putSummary.p50,
        putP99: putSummary.p99,
        serverCpuMsPerRequest: c.cpu !== null && next !== null && answered > 0 ? round((next - c.cpu) / answered) : null,
      };
    };
    const before = window("before", counts.during.at);
    const during = window("during", counts.after.at);
    const readErrorsAll = (["before", "during", "after"] as const).reduce((n, p) => n + counts[p].get.errors + counts[p].pull.errors, 0);

    const parsed = SUMMARY_LINE.exec(rotation.stdout);
    if (parsed && parsed[2] !== newKey.id) throw new Error(`keys rotate re-encrypted to key ${parsed[2]}, not the new key ${newKey.id}`);

    log("rotation: checking every row in the database");
    const verification = await verify(url, keysSpec, { oldKeyId, newKeyId: newKey.id }, acknowledged, unconfirmedSince, {
      from: rotation.spawnedAt,
      to: rotation.exitedAt,
    });
    const rowsOff = verification.rows - verification.onOldKey;
    const completed = rotation.code === 0 && verification.onOldKey === 0 && verification.undecryptable === 0 && verification.keyIdMismatch === 0;
    // ≤ 60 s per 100,000 rows; a smaller seed (the smoke run's) still gets the 60 s.
    const targetSeconds = TARGETS.rotationSeconds * Math.max(1, verification.rows / TARGETS.rotationRows);
    const pass = {
      time: completed && wallSeconds <= targetSeconds,
      failedReads: readErrorsAll <= TARGETS.rotationFailedReads,
      lost: verification.lost <= TARGETS.rotationLost && verification.writtenRegistries > 0,
      all: false,
    };
    pass.all = pass.time && pass.failedReads && pass.lost;

    return {
      registries: seed.totalRegistries,
      images: seed.totalImages,
      seedSeconds: round(seedSeconds, 1),
      oldKeyId,
      newKeyId: newKey.id,
      batchSize,
      batchSizeIsDefault: plan.batchSize === undefined,
      command: `keys ${rotateArgs.join(" ")}`,
      rotation: {
        exitCode: rotation.code,
        timedOut: rotation.timedOut,
        wallSeconds: round(wallSeconds, 2),
        rotated: parsed ? Number(parsed[1]) : null,
        seconds: parsed ? Number(parsed[3]) : null,
        perSecond: parsed ? Number(parsed[4]) : null,
        couldNotOpen: parsed ? Number(parsed[5]) : null,
        leftOnOtherKeys: parsed ? Number(parsed[6]) : null,
        rowsPerWallSecond: wallSeconds > 0 ? Math.round(rowsOff / wallSeconds) : 0,
        cpuSeconds: rotation.cpuMs === null ? null : round(rotation.cpuMs / 1000, 2),
        summaryLine: parsed?.[0] ?? rotation.stdout.trim().split("\n").at(-1) ?? "",
        ...(rotation.code !== 0 && { stderrTail: rotation.stderr.slice(-2_000) }),
      },
      load: {
        readConnections: readConnections * 2,
        putWorkers: plan.putWorkers,
        putRegistries: putIds.length,
        coveredRotation,
        before,
        during,
        get: mergeLoads([getRun]),
        pull: mergeLoads([pullRun]),
        puts: putStats,
      },
      failedReads: { duringRotation: during.readErrors, wholeLoad: readErrorsAll, statuses: failedReadStatuses },
      verification,
      target: { seconds: round(targetSeconds, 1), perRows: TARGETS.rotationRows, failedReads: TARGETS.rotationFailedReads, lost: TARGETS.rotationLost },
      pass,
    };
  } finally {
    stopLoad.abort();
    clearTimeout(loadDeadline);
    if (!serverStopped) await server.stop();
  }
}

/** Reads every row once the server is stopped: keys, decryption, and the PUTs' last passwords. */
async function verify(
  url: string,
  keysSpec: string,
  keys: { oldKeyId: string; newKeyId: string },
  acknowledged: Map<string, { password: string; at: number; firstAt: number }>,
  unconfirmedSince: Map<string, string[]>,
  rotationWindow: { from: number; to: number },
): Promise<RotationResult["verification"]> {
  const cipher = createCipher(parseKeyringSpec(keysSpec));
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const v = { rows: 0, onOldKey: 0, onNewKey: 0, onOtherKeys: 0, undecryptable: 0, keyIdMismatch: 0 };
  let lost = 0;
  let unconfirmed = 0;
  try {
    await sql<{ id: string; workspace_id: string; password_ciphertext: string; password_key_id: string }[]>`
      select id, workspace_id, password_ciphertext, password_key_id
      from registries where password_ciphertext is not null order by id`.cursor(5_000, (rows) => {
      for (const row of rows) {
        v.rows++;
        if (row.password_key_id === keys.oldKeyId) v.onOldKey++;
        else if (row.password_key_id === keys.newKeyId) v.onNewKey++;
        else v.onOtherKeys++;
        let password: string | null = null;
        try {
          if (cipher.keyIdOf(row.password_ciphertext) !== row.password_key_id) v.keyIdMismatch++;
          password = cipher.decrypt(row.password_ciphertext, credentialContext(row.workspace_id, row.id));
        } catch {
          v.undecryptable++;
        }
        const ack = acknowledged.get(row.id);
        if (ack && password !== ack.password) {
          if (password !== null && unconfirmedSince.get(row.id)?.includes(password)) unconfirmed++;
          else lost++;
        }
      }
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
  let firstWrittenDuringRotation = 0;
  for (const ack of acknowledged.values()) {
    if (ack.firstAt >= rotationWindow.from && ack.firstAt <= rotationWindow.to) firstWrittenDuringRotation++;
  }
  return { ...v, writtenRegistries: acknowledged.size, firstWrittenDuringRotation, lost, unconfirmed };
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
