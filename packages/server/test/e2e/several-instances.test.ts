/**
 * Two server processes on one PostgreSQL database, as a deployment with two instances runs them:
 * a token revoked with the CLI is refused by both within a second (each had it cached for a
 * minute), the per-token rate limit is counted by each instance on its own (the README states the
 * total), and failed authentications are limited per client address, per instance (the 429 held a
 * second, as by default).
 */
import { request, type IncomingHttpHeaders } from "node:http";
import { formatKeyringSpec, generateKey } from "@modbox/crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { generateApiToken } from "../../src/auth/api-token.js";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import { killStartedProcesses, runToExit, startServerProcess, type ServerProcess } from "@modbox/testkit/processes";
import "@modbox/testkit/provided-context";

const WORKSPACE = "acme";
const RATE_LIMIT_PER_MINUTE = 40;
const FAILURES_PER_ADDRESS = 5;
const REVOCATION_BUDGET_MS = 1_000;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET /registries with a token, from a chosen loopback address (the server sees it as req.ip). */
function list(server: ServerProcess, token: string, localAddress = "127.0.0.1"): Promise<Answer> {
  const url = new URL("/registries", server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        localAddress,
        headers: { authorization: `Bearer ${token}`, "x-workspace-id": WORKSPACE },
        timeout: 5_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

const postgresUrl = inject("postgresUrl");

describe.skipIf(!postgresUrl)("two server processes on one PostgreSQL", () => {
  let database: PostgresTestDatabase;
  let sql: postgres.Sql;
  const servers: ServerProcess[] = [];
  const env = () => ({
    DATABASE_URL: database.url,
    MODBOX_ENCRYPTION_KEYS: keys,
    MODBOX_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    // A minute: a revocation seen within a second can only have come from the notice.
    MODBOX_TOKEN_CACHE_SECONDS: "60",
    MODBOX_AUTH_FAILURES_PER_ADDRESS: String(FAILURES_PER_ADDRESS),
    MODBOX_AUTH_FAILURE_WINDOW_SECONDS: "60",
  });
  const keys = formatKeyringSpec([generateKey()]);

  async function createToken(name: string): Promise<{ id: string; token: string }> {
    const created = await runToExit("tokens", ["create", "--name", name, "--workspace", WORKSPACE], env());
    expect(created.code, created.stderr).toBe(0);
    const id = /Created token: ([0-9a-f-]{36})\t/.exec(created.stderr)?.[1];
    const token = created.stdout.trim();
    expect(id).toBeDefined();
    expect(token).toMatch(/^mbx_/);
    return { id: id!, token };
  }

  beforeAll(async () => {
    database = await createPostgresTestDatabase(postgresUrl!);
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
    // The first migrates; the second starts on the migrated database, as a second instance does.
    servers.push(await startServerProcess(env()));
    servers.push(await startServerProcess(env()));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await killStartedProcesses();
    await sql?.end({ timeout: 5 });
    await database?.drop();
  });

  it("a token revoked with the CLI is refused by both instances within a second", async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const revoked = await createToken("to-revoke");
    const kept = await createToken("to-keep");
    for (const server of servers) {
      expect((await list(server, revoked.token)).status).toBe(200);
      expect((await list(server, kept.token)).status).toBe(200);
    }

    const cli = runToExit("tokens", ["revoke", revoked.id], env());
    // The revocation's own time, written by the CLI just before its statement commits.
    let revokedAt: number | undefined;
    const deadline = Date.now() + 60_000;
    while (revokedAt === undefined && Date.now() < deadline) {
      const [row] = await sql<{ revoked_at: Date | null }[]>`select revoked_at from api_tokens where id = ${revoked.id}`;
      if (row?.revoked_at) revokedAt = row.revoked_at.getTime();
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(revokedAt, "the CLI did not revoke the token within a minute").toBeDefined();

    // Each instance, polled every 10 ms until it refuses the token (or the budget is spent twice over).
    const refusedAfter = async (server: ServerProcess): Promise<number> => {
      for (;;) {
        const { status } = await list(server, revoked.token);
        const elapsed = Date.now() - revokedAt!;
        // 200 (or 429, the token's own limit) until the notice arrives: it is still trusted.
        if (status === 401 || elapsed > 2 * REVOCATION_BUDGET_MS) return status === 401 ? elapsed : Infinity;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const [onA, onB] = await Promise.all([refusedAfter(a), refusedAfter(b)]);
    console.log(`revocation with the CLI → refused by instance A after ${onA} ms, by instance B after ${onB} ms (from revoked_at)`);
    expect(onA).toBeLessThanOrEqual(REVOCATION_BUDGET_MS);
    expect(onB).toBeLessThanOrEqual(REVOCATION_BUDGET_MS);
    const exited = await cli;
    expect(exited.code, exited.stderr).toBe(0);

    // It stays refused, and only that token was forgotten.
    for (const server of servers) {
      expect((await list(server, revoked.token)).status).toBe(401);
      expect((await list(server, kept.token)).status).toBe(200);
    }
    for (const server of servers) expect(server.stdout() + server.stderr()).not.toContain(revoked.token);
  });

  it("counts the per-token rate limit per instance: a token gets the limit on each, twice the limit in all", async () => {
    const { token } = await createToken("rate-limited");
    const accepted: number[] = [];
    for (const server of servers) {
      const statuses: number[] = [];
      let limited: Answer | undefined;
      for (let i = 0; i < RATE_LIMIT_PER_MINUTE + 5; i++) {
        const answer = await list(server, token);
        statuses.push(answer.status);
        if (answer.status === 429) limited ??= answer;
      }
      expect(statuses.slice(0, RATE_LIMIT_PER_MINUTE).every((s) => s === 200)).toBe(true);
      expect(statuses.slice(RATE_LIMIT_PER_MINUTE).every((s) => s === 429)).toBe(true);
      expect(limited!.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(limited!.body)).toMatchObject({ status: 429, code: "rate_limited" });
      expect(Number(limited!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      accepted.push(statuses.filter((s) => s === 200).length);
    }
    console.log(`per-token limit ${RATE_LIMIT_PER_MINUTE}/min per instance: accepted ${accepted.join(" + ")} = ${accepted[0]! + accepted[1]!} over two instances`);
    expect(accepted).toEqual([RATE_LIMIT_PER_MINUTE, RATE_LIMIT_PER_MINUTE]);
  });

  it("limits failed authentications per client address and per instance, and keeps serving tokens it knows", async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const attacker = "127.0.0.2";
    const known = await createToken("known-to-a");
    const unused = await createToken("not-yet-used");
    expect((await list(a, known.token, attacker)).status).toBe(200);

    for (let i = 0; i < FAILURES_PER_ADDRESS; i++) expect((await list(a, generateApiToken(), attacker)).status).toBe(401);
    const heldFrom = Date.now();
    const throttled = await list(a, generateApiToken(), attacker);
    // Held a second (MODBOX_AUTH_FAILURE_DELAY_MS) before it is sent.
    expect(Date.now() - heldFrom).toBeGreaterThanOrEqual(900);
    expect(throttled.status).toBe(429);
    expect(throttled.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(throttled.body)).toMatchObject({ status: 429, code: "rate_limited" });
    const retryAfter = Number(throttled.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The token this instance knows keeps working from that address; one it has not seen waits.
    expect((await list(a, known.token, attacker)).status).toBe(200);
    expect((await list(a, unused.token, attacker)).status).toBe(429);
    // Another address is not affected, nor is the other instance (it counts its own failures).
    expect((await list(a, unused.token, "127.0.0.3")).status).toBe(200);
    expect((await list(b, generateApiToken(), attacker)).status).toBe(401);
  });
});
