/**
 * Retried creates whose answers were lost: the SDK against the real app, through a TCP proxy
 * that lets the server answer and then resets the client's connection instead of passing the
 * answer on. The client sees a connection error after the server acted, and retries with the
 * same Idempotency-Key; the server must answer the retry with what the first attempt did, not
 * act again. Every call must resolve once, with an object of its own, and exactly one object
 * must be stored per call.
 *
 * Registries carry the load: they are the costly create (the password is encrypted, so the
 * stored request fingerprint must not hold it) and the unforgiving one, since names are unique:
 * a server that ignores the key turns each lost answer into a `409 registry_name_taken` for a
 * registry that was in fact created. Sandbox images have no unique name, so there a server that
 * ignores the key stores duplicates silently: a smaller run proves that side.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { createClient, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, rowsOf, type Backend } from "@modbox/testkit/databases";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Calls per run. Server, proxy and client share this process. Measured on 2 cores shared with
// other work (load average 7 to 8): 10,000 registry creates took 80 to 92 s on PostgreSQL, and
// 2,000 took 30 to 39 s on PGlite (15 to 20 ms each: one WASM thread runs every query, so
// 10,000 would take several minutes). So PostgreSQL carries the full 10,000 and PGlite a
// smaller run of the same test. Image runs only need enough cut answers to show duplicates.
const CALLS: Record<Backend, { registries: number; sandboxImages: number }> = {
  postgres: { registries: 10_000, sandboxImages: 1_000 },
  pglite: { registries: 2_000, sandboxImages: 500 },
};
const CONCURRENCY = 32;
/** One answer in this many is cut after the server sent it. */
const DROP_EVERY = 10;
/**
 * Enough that a call never runs out while every 10th answer is lost: a call fails only if all
 * its attempts are cut, about (1/10)^9 per call.
 */
const MAX_RETRIES = 8;

interface LossyProxy {
  url: string;
  /** Answers the server sent that the client never got: its connection was reset instead. */
  readonly drops: number;
  /** Answers that began to arrive from the server, cut or passed on. */
  readonly answers: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to `target` that cuts every `dropEvery`-th answer: when the first bytes of an
 * answer arrive from the server, the client's socket is reset (RST) and the answer discarded.
 * HTTP/1.1 without pipelining (what fetch does) sends one request per connection at a time, so
 * the first bytes from the server after bytes from the client are the start of an answer.
 */
async function startLossyProxy(target: string, dropEvery: number): Promise<LossyProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let drops = 0;
  let answers = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let awaitingAnswer = false;
    client.on("data", (chunk) => {
      awaitingAnswer = true;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (awaitingAnswer) {
        awaitingAnswer = false;
        answers += 1;
        if (answers % dropEvery === 0) {
          drops += 1;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
      }
      client.write(chunk);
    });
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on("error", () => other.destroy());
      socket.on("close", () => {
        sockets.delete(socket);
        other.destroy();
      });
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get drops() {
      return drops;
    },
    get answers() {
      return answers;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Outcome<T> {
  /** Per call, how often it resolved and rejected: exactly [1, 0] each when all is well. */
  settled: { resolved: number; rejected: number }[];
  values: (T | undefined)[];
  errors: { call: number; error: unknown }[];
  /** Answers the client got with `Idempotent-Replayed: true`. */
  replayed: number;
}

/** Runs `calls` calls of `call`, at most `concurrency` at a time, and records how each settled. */
async function runBounded<T>(
  calls: number,
  concurrency: number,
  call: (index: number) => Promise<{ data: T; response: Response }>,
): Promise<Outcome<T>> {
  const outcome: Outcome<T> = {
    settled: Array.from({ length: calls }, () => ({ resolved: 0, rejected: 0 })),
    values: new Array<T | undefined>(calls),
    errors: [],
    replayed: 0,
  };
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      const index = next++;
      await call(index).then(
        ({ data, response }) => {
          outcome.settled[index]!.resolved += 1;
          outcome.values[index] = data;
          if (response.headers.get("idempotent-replayed") === "true") outcome.replayed += 1;
        },
        (error: unknown) => {
          outcome.settled[index]!.rejected += 1;
          outcome.errors.push({ call: index, error });
        },
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcome;
}

function describeErrors(errors: { call: number; error: unknown }[]): string[] {
  const counts = new Map<string, number>();
  for (const { error } of errors) {
    const e = error as { name?: string; status?: number; code?: string; message?: string };
    const what = `${e.name ?? "?"} ${e.status ?? ""} ${e.code ?? e.message ?? ""}`.trim();
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return [...counts].map(([what, n]) => `${n} × ${what}`);
}

function expectEveryCallResolvedOnce(outcome: Outcome<unknown>): void {
  expect(describeErrors(outcome.errors), "calls that rejected").toEqual([]);
  const notOnce = outcome.settled.flatMap((s, call) => (s.resolved === 1 && s.rejected === 0 ? [] : [{ call, ...s }]));
  expect(notOnce, "calls that did not resolve exactly once").toEqual([]);
}

describe.each(backends)("creates retried after lost answers, on %s", (backend) => {
  let app: TestApp;
  let proxy: LossyProxy;
  let client: ModboxClient;
  let workspaceId: string;

  beforeAll(async () => {
    app = await startTestApp(backend);
    proxy = await startLossyProxy(app.url, DROP_EVERY);
    workspaceId = `ws-${randomUUID()}`;
    client = createClient({ baseUrl: proxy.url, token: app.token, workspaceId, maxRetries: MAX_RETRIES });
  });
  afterAll(async () => {
    await proxy?.close();
    await app?.close();
  });

  it(
    `${CALLS[backend].registries} registry creates: each acknowledged once, each stored once`,
    async () => {
      const calls = CALLS[backend].registries;
      const dropsBefore = proxy.drops;
      const started = performance.now();
      const outcome = await runBounded(calls, CONCURRENCY, (i) =>
        client.registries
          .create({ name: `registry-${i}`, server: "ghcr.io", username: `user-${i}`, password: `secret-${i}` })
          .withResponse(),
      );
      const seconds = (performance.now() - started) / 1000;
      const drops = proxy.drops - dropsBefore;
      console.log(
        `[idempotent-retries] ${backend}: ${calls} registry creates in ${seconds.toFixed(1)} s, ` +
          `${drops} answers cut, ${outcome.replayed} replayed, ${outcome.errors.length} failed`,
      );

      expect(drops, "the proxy cut no answer: the test proved nothing").toBeGreaterThan(0);
      expectEveryCallResolvedOnce(outcome);
      // Each call got its own registry back, the one it asked for.
      const names = outcome.values.map((r) => r?.name);
      expect(names).toEqual(Array.from({ length: calls }, (_, i) => `registry-${i}`));
      const acknowledged = new Set(outcome.values.map((r) => r!.id));
      expect(acknowledged.size).toBe(calls);

      const rows = rowsOf(
        await app.database.db.execute(
          sql`select id::text as id, name from registries where workspace_id = ${workspaceId} and deleted_at is null`,
        ),
      );
      expect(rows).toHaveLength(calls);
      expect(new Set(rows.map((r) => r.name)).size).toBe(calls);
      // Stored and acknowledged are the same set: nothing stored that no call was told about.
      expect(new Set(rows.map((r) => String(r.id)))).toEqual(acknowledged);
      // The server did answer retries from its store (not, say, by the proxy never cutting a
      // create): at least one answer came back marked as a replay.
      expect(outcome.replayed).toBeGreaterThan(0);
    },
    300_000,
  );

  it(
    `${CALLS[backend].sandboxImages} sandbox image creates: each acknowledged once, each stored once (no unique name stops a duplicate)`,
    async () => {
      const calls = CALLS[backend].sandboxImages;
      const dropsBefore = proxy.drops;
      const started = performance.now();
      const outcome = await runBounded(calls, CONCURRENCY, (i) =>
        client.sandboxImages.create({ name: `image-${i}`, image: "ghcr.io/acme/app", tag: `t${i}` }).withResponse(),
      );
      const seconds = (performance.now() - started) / 1000;
      const drops = proxy.drops - dropsBefore;
      console.log(
        `[idempotent-retries] ${backend}: ${calls} sandbox image creates in ${seconds.toFixed(1)} s, ` +
          `${drops} answers cut, ${outcome.replayed} replayed, ${outcome.errors.length} failed`,
      );

      expect(drops, "the proxy cut no answer: the test proved nothing").toBeGreaterThan(0);
      expectEveryCallResolvedOnce(outcome);
      const acknowledged = new Set(outcome.values.map((image) => image!.id));
      expect(acknowledged.size).toBe(calls);

      const duplicates = rowsOf(
        await app.database.db.execute(
          sql`select name, count(*)::int as n from sandbox_images where workspace_id = ${workspaceId}
              group by name having count(*) > 1 order by name limit 5`,
        ),
      );
      expect(duplicates, "names stored more than once (first 5)").toEqual([]);
      const rows = rowsOf(
        await app.database.db.execute(sql`select id::text as id from sandbox_images where workspace_id = ${workspaceId}`),
      );
      expect(rows).toHaveLength(calls);
      expect(new Set(rows.map((r) => String(r.id)))).toEqual(acknowledged);
      expect(outcome.replayed).toBeGreaterThan(0);
    },
    300_000,
  );
});
