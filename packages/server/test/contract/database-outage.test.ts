/**
 * A PostgreSQL outage: requests answer 503 + Retry-After quickly (never hang), readiness says
 * so, and the server recovers by itself when the database returns, with nothing lost.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import {
  postgresBinariesAvailable,
  startPostgresServer,
  type PostgresServer,
} from "@modbox/testkit/postgres";

describe.skipIf(!postgresBinariesAvailable() && !process.env.CI)("database outage on PostgreSQL", () => {
  let postgresServer: PostgresServer;
  let app: TestApp;

  beforeAll(async () => {
    // Durable: the test crashes the server and then counts on every acknowledged write.
    postgresServer = await startPostgresServer({ durable: true });
    app = await startTestApp("postgres", { postgresAdminUrl: postgresServer.url });
  });
  afterAll(async () => {
    await postgresServer?.resume().catch(() => {});
    await app?.close().catch(() => {});
    await postgresServer?.stop();
  });

  it("answers 503 during the outage and recovers after it", async () => {
    const workspace = `ws-${randomUUID()}`;
    const headers = { authorization: `Bearer ${app.token}`, "x-workspace-id": workspace };
    const client = app.client(workspace);
    const before = await client.registries.create({ name: "kept", server: "ghcr.io", username: "u", password: "p" });

    await postgresServer.halt();
    const startedAt = Date.now();
    const during = await fetch(`${app.url}/registries`, { headers });
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await during.json()).toMatchObject({ code: "service_unavailable" });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    // Bounded by the connect timeout (2 s here), never the OS default.
    expect(Date.now() - startedAt).toBeLessThan(15_000);

    await postgresServer.resume();
    const resumedAt = Date.now();
    let status = 0;
    const seen: string[] = [];
    while (status !== 200 && Date.now() - resumedAt < 20_000) {
      status = (await fetch(`${app.url}/registries/${before.id}`, { headers })).status;
      seen.push(`${Date.now() - resumedAt}ms:${status}`);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status, `${seen.slice(-3).join(' ')}\n${app.logs.filter((l) => l.includes('"level":50')).slice(-2).join('\n')}`).toBe(200);
    expect(Date.now() - resumedAt).toBeLessThan(5_000);
    expect(await client.registries.get(before.id)).toEqual(before);
  });
});
