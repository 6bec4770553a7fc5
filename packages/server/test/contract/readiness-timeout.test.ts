/**
 * A database that stops answering (its processes frozen with SIGSTOP, connections open) must not
 * hang /readyz: it answers 503 within the ping timeout (2 s), and 200 again once the database
 * answers. PGlite cannot be frozen this way (it runs in our own thread); its one way to wedge, a
 * query after a PANIC, is refused outright (see db/pglite-failure.ts and e2e/disk-full.test.ts).
 */
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import {
  postgresBinariesAvailable,
  startPostgresServer,
  type PostgresServer,
} from "@modbox/testkit/postgres";

/** The server's processes: every backend and auxiliary process it lists, and their parent, the postmaster. */
async function postgresPids(adminUrl: string): Promise<number[]> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where pid <> pg_backend_pid()`;
    const pids = rows.map((r) => r.pid);
    const parent = Number(readFileSync(`/proc/${pids[0]}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
    return [parent, ...pids];
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function signal(pids: number[], name: "SIGSTOP" | "SIGCONT"): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // exited meanwhile
    }
  }
}

describe.skipIf(!postgresBinariesAvailable() && !process.env.CI)("/readyz against a PostgreSQL that stopped answering", () => {
  let server: PostgresServer;
  let app: TestApp;
  let frozen: number[] = [];

  beforeAll(async () => {
    server = await startPostgresServer();
    app = await startTestApp("postgres", { postgresAdminUrl: server.url });
  });
  afterAll(async () => {
    signal(frozen, "SIGCONT");
    await app?.close().catch(() => {});
    await server?.stop();
  });

  it("answers 503 within the ping timeout, and 200 once the database answers again", async () => {
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    frozen = await postgresPids(server.url);
    signal(frozen, "SIGSTOP");

    const startedAt = Date.now();
    const stalled = await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
    const took = Date.now() - startedAt;
    expect(stalled.status).toBe(503);
    expect(stalled.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await stalled.json()).toMatchObject({ code: "service_unavailable", detail: "The database did not answer within 2000 ms." });
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(4_000);

    signal(frozen, "SIGCONT");
    frozen = [];
    let status = 0;
    const resumedAt = Date.now();
    while (status !== 200 && Date.now() - resumedAt < 10_000) {
      status = (await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(5_000) })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});
