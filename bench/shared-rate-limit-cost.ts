/**
 * What counting the per-token rate limit in PostgreSQL would cost per request, the figure behind
 * keeping it per instance (README, "Authentication, revocation and rate limits"):
 *
 *   node --import tsx bench/shared-rate-limit-cost.ts
 *
 * On a throwaway PostgreSQL 15 with its default durability (fsync, synchronous_commit on), it
 * times the statement a shared counter needs on every request (an upsert of the token's row for
 * the current minute, all of that token's requests on the one row) beside the token lookup a
 * request costs today when the cache misses, one at a time and from 10 connections at once.
 * Not part of `pnpm bench`: it measures a design not built.
 */
import postgres from "postgres";
import { startPostgresServer } from "@modbox/testkit/postgres";
import { summarize } from "./lib/stats.js";

const REQUESTS = 5_000;
const pg = await startPostgresServer({ durable: true });
const sql = postgres(pg.url, { max: 10, onnotice: () => {} });
try {
  await sql`create table rate_windows (token_id uuid, window_start timestamptz, count int not null, primary key (token_id, window_start))`;
  await sql`create table tokens (id uuid primary key, token_hash text unique not null)`;
  await sql`insert into tokens select gen_random_uuid(), md5(i::text) from generate_series(1, 10000) i`;
  const tokenId = "01a22784-6edb-7244-99a6-b9fb94bee924";
  const statements = {
    "token lookup (select by hash)": () => sql`select id from tokens where token_hash = ${"c4ca4238a0b923820dcc509a6f75849b"}`,
    "shared counter (upsert of one row per token and minute)": () =>
      sql`insert into rate_windows values (${tokenId}, date_trunc('minute', now()), 1)
          on conflict (token_id, window_start) do update set count = rate_windows.count + 1 returning count`,
  };
  for (const connections of [1, 10]) {
    for (const [name, run] of Object.entries(statements)) {
      for (let i = 0; i < 200; i++) await run();
      const latencies: number[] = [];
      const started = performance.now();
      await Promise.all(
        Array.from({ length: connections }, async () => {
          for (let i = 0; i < REQUESTS / connections; i++) {
            const at = performance.now();
            await run();
            latencies.push(performance.now() - at);
          }
        }),
      );
      const perSecond = Math.round(REQUESTS / ((performance.now() - started) / 1000));
      const { p50, p99 } = summarize(latencies);
      process.stdout.write(`${name}, ${connections} connection(s): ${perSecond}/s, p50 ${p50} ms, p99 ${p99} ms\n`);
    }
  }
} finally {
  await sql.end({ timeout: 5 });
  await pg.stop();
}
