/**
 * The load generator: autocannon (keep-alive connections, no pipelining), bounded both in
 * requests (`amount`) and in time (`maxSeconds`, after which it is stopped). Latencies are taken
 * from autocannon's per-response event with sub-millisecond precision (its own histogram rounds
 * to whole milliseconds, too coarse for a 1–3 ms API), only for 2xx answers; anything else is
 * counted as an error.
 */
import autocannon from "autocannon";
import { readCpuMs } from "./processes.js";
import { round, summarize, type LatencySummary } from "./stats.js";

export interface RequestShape {
  method: "GET" | "POST" | "PUT";
  path: string;
  body?: string;
  /** Headers of this request only, over the spec's (e.g. a fresh `Idempotency-Key`). */
  headers?: Record<string, string>;
}

export interface LoadSpec {
  /** Builds each request (a fresh name, a random id, …). */
  next: () => RequestShape;
  headers: Record<string, string>;
}

export interface LoadBounds {
  connections: number;
  amount: number;
  maxSeconds: number;
}

/** The server under load, for its CPU time (a child process's pid). */
export interface LoadTarget {
  url: string;
  pid?: number;
}

export interface LoadResult extends LatencySummary {
  /** 2xx answers per second of wall time. */
  rps: number;
  /**
   * CPU time the server process used per answered request (user + system, ms), or null when it
   * cannot be read. Robust to other load on the machine, unlike rps; PostgreSQL's is not included.
   */
  cpuMsPerRequest: number | null;
  ok: number;
  errors: number;
  /** Status codes of the non-2xx answers, counted (for the report when errors > 0). */
  errorStatuses: Record<string, number>;
  seconds: number;
}

export interface LoadRun {
  result: LoadResult;
  /** Every 2xx latency in ms, for pooling rounds. */
  samples: number[];
  /** Server CPU time over the run (ms), null when unknown. */
  cpuMs: number | null;
  /** Requests answered (any status). */
  answered: number;
}

/** Optional hooks of a run: an early stop, and every answer as it comes (for time windows). */
export interface LoadControl {
  /** Stops the run (as its time bound would) when aborted. */
  signal?: AbortSignal;
  /** Every answer: its status (0 for a network error) and `performance.now()` when it came. */
  onAnswer?: (status: number, at: number, latencyMs: number) => void;
}

export async function runLoad(target: LoadTarget | string, spec: LoadSpec, bounds: LoadBounds, control: LoadControl = {}): Promise<LoadRun> {
  const { url: baseUrl, pid } = typeof target === "string" ? { url: target, pid: undefined } : target;
  const cpuBefore = pid === undefined ? null : readCpuMs(pid);
  const latencies: number[] = [];
  let errors = 0;
  const errorStatuses: Record<string, number> = {};
  const first = spec.next();
  const started = performance.now();
  let done: (err: Error | null) => void = () => {};
  const instance = autocannon(
    {
      url: baseUrl,
      connections: Math.min(bounds.connections, bounds.amount),
      pipelining: 1,
      amount: bounds.amount,
      timeout: 10,
      headers: spec.headers,
      requests: [
        {
          method: first.method,
          path: first.path,
          setupRequest: (req) => {
            const shape = spec.next();
            return {
              ...req,
              method: shape.method,
              path: shape.path,
              body: shape.body,
              ...(shape.headers && { headers: { ...req.headers, ...shape.headers } }),
            };
          },
        },
      ],
    },
    (err) => done(err),
  );
  let lastAt = started;
  let answered = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  // autocannon emits "done" only at its next 1-second tick; once every request of `amount` has
  // its answer nothing is in flight any more, so return at once (its clients have all stopped).
  const count = () => {
    lastAt = performance.now();
    if (++answered >= bounds.amount) finish();
  };
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    else {
      errors++;
      errorStatuses[statusCode] = (errorStatuses[statusCode] ?? 0) + 1;
    }
    control.onAnswer?.(statusCode, performance.now(), responseTime);
    count();
  });
  instance.on("reqError", () => {
    errors++;
    errorStatuses.network = (errorStatuses.network ?? 0) + 1;
    control.onAnswer?.(0, performance.now(), 0);
    count();
  });
  // Stopped at the time bound (or when told to): its clients stop at its next tick, so wait for
  // "done" then.
  const timer = setTimeout(() => instance.stop(), bounds.maxSeconds * 1000);
  const stopEarly = () => instance.stop();
  control.signal?.addEventListener("abort", stopEarly, { once: true });
  if (control.signal?.aborted) stopEarly();
  await Promise.race([
    finished,
    new Promise<void>((resolve, reject) => {
      done = (err) => (err ? reject(err) : resolve());
    }),
  ]);
  clearTimeout(timer);
  control.signal?.removeEventListener("abort", stopEarly);
  if (answered >= bounds.amount) instance.stop();
  // Up to the last answer: autocannon reports "done" only at its next 1-second tick.
  const seconds = (lastAt - started) / 1000;
  const cpuAfter = pid === undefined ? null : readCpuMs(pid);
  const cpuMs = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
  return {
    result: {
      ...summarize(latencies),
      rps: latencies.length / seconds,
      cpuMsPerRequest: cpuMs === null || answered === 0 ? null : round(cpuMs / answered),
      ok: latencies.length,
      errors,
      errorStatuses,
      seconds,
    },
    samples: latencies,
    cpuMs,
    answered,
  };
}

/** Merges several rounds: latencies pooled, throughput = all 2xx answers over all the time. */
export function mergeLoads(runs: LoadRun[]): LoadResult {
  const results = runs.map((r) => r.result);
  const ok = results.reduce((n, r) => n + r.ok, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  const errorStatuses: Record<string, number> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r.errorStatuses)) errorStatuses[k] = (errorStatuses[k] ?? 0) + v;
  }
  const cpu = runs.every((r) => r.cpuMs !== null) ? runs.reduce((n, r) => n + r.cpuMs!, 0) : null;
  const answered = runs.reduce((n, r) => n + r.answered, 0);
  return {
    ...summarize(runs.flatMap((r) => r.samples)),
    rps: ok / seconds,
    cpuMsPerRequest: cpu === null || answered === 0 ? null : round(cpu / answered),
    ok,
    errors: results.reduce((n, r) => n + r.errors, 0),
    errorStatuses,
    seconds,
  };
}
