import { createHash, randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backends, createTestDatabase, postgresAdminUrl, type TestDatabase } from "@modbox/testkit/databases";
import { FIXTURE_TIME } from "@modbox/testkit/fixtures";
import { uuidv7 } from "@modbox/testkit/ids";
import { createPostgresTestDatabase, postgresBinariesAvailable, startPostgresServer } from "@modbox/testkit/postgres";
import { openDatabase } from "../db/client.js";
import { migrateDatabase } from "../db/migrate.js";
import { createApiTokenRepository, TOKEN_REVOCATIONS_CHANNEL } from "../db/repositories/api-tokens.js";
import { listenForRevocations } from "./revocation-listener.js";

const silent = pino({ level: "silent" });

function target() {
  return { forgetToken: vi.fn<(id: string) => void>(), forgetAll: vi.fn<() => void>() };
}

async function insertToken(repo: ReturnType<typeof createApiTokenRepository>): Promise<string> {
  const id = uuidv7();
  await repo.insert({
    id,
    name: "ci",
    scope: "workspace",
    workspaceIds: ["ws-a"],
    tokenHash: createHash("sha256").update(randomBytes(32)).digest("hex"),
    createdAt: FIXTURE_TIME,
  });
  return id;
}

describe.each(backends)("token revocation notices on %s", (backend) => {
  let testDb: TestDatabase;
  let repo: ReturnType<typeof createApiTokenRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    repo = createApiTokenRepository(testDb.handle.db);
  });
  afterAll(() => testDb?.dispose());

  it("a revocation reaches the listener with the token id; a revoke that changes nothing sends none", async () => {
    const cache = target();
    const listener = await listenForRevocations(testDb.handle, cache, silent);
    try {
      // Listening starts with a resynchronisation: nothing cached can predate it.
      expect(cache.forgetAll).toHaveBeenCalledTimes(1);
      const id = await insertToken(repo);

      expect(await repo.revoke(id, FIXTURE_TIME)).toBe(true);
      await vi.waitFor(() => expect(cache.forgetToken).toHaveBeenCalledWith(id), { timeout: 2_000, interval: 5 });

      expect(await repo.revoke(id, FIXTURE_TIME)).toBe(false);
      expect(await repo.revoke(uuidv7(), FIXTURE_TIME)).toBe(false);
      // A marker notice after them: once it has arrived, anything they had sent would have too.
      const marker = await insertToken(repo);
      await repo.revoke(marker, FIXTURE_TIME);
      await vi.waitFor(() => expect(cache.forgetToken).toHaveBeenCalledWith(marker), { timeout: 2_000, interval: 5 });
      expect(cache.forgetToken.mock.calls).toEqual([[id], [marker]]);
      expect(cache.forgetAll).toHaveBeenCalledTimes(1);
    } finally {
      await listener.stop();
    }
  });

  it("a notice it does not recognise makes every cached token be checked again", async () => {
    const cache = target();
    const listener = await listenForRevocations(testDb.handle, cache, silent);
    try {
      await testDb.handle.db.execute(sql`select pg_notify(${TOKEN_REVOCATIONS_CHANNEL}, 'not-a-token-id')`);
      await vi.waitFor(() => expect(cache.forgetAll).toHaveBeenCalledTimes(2), { timeout: 2_000, interval: 5 });
      expect(cache.forgetToken).not.toHaveBeenCalled();
    } finally {
      await listener.stop();
    }
  });

  it("hears nothing once stopped", async () => {
    const cache = target();
    const listener = await listenForRevocations(testDb.handle, cache, silent);
    await listener.stop();
    await listener.stop();
    const stillListening = target();
    const other = await listenForRevocations(testDb.handle, stillListening, silent);
    try {
      const id = await insertToken(repo);
      await repo.revoke(id, FIXTURE_TIME);
      await vi.waitFor(() => expect(stillListening.forgetToken).toHaveBeenCalledWith(id), { timeout: 2_000, interval: 5 });
      expect(cache.forgetToken).not.toHaveBeenCalled();
    } finally {
      await other.stop();
    }
  });
});

// A server of its own: the test stops and starts it, which the shared one must never be.
describe.skipIf(!postgresAdminUrl || !postgresBinariesAvailable())("the revocation listener across a database restart", () => {
  it("listens again by itself, and has every cached token checked again (notices were lost)", async () => {
    // Durable: the restart is an immediate stop, and the migrated schema must survive it.
    const server = await startPostgresServer({ durable: true });
    try {
      const created = await createPostgresTestDatabase(server.url);
      const handle = await openDatabase({ kind: "postgres", url: created.url, maxConnections: 2, connectTimeoutSeconds: 2 });
      try {
        await migrateDatabase(handle);
        const repo = createApiTokenRepository(handle.db);
        const cache = target();
        const listener = await listenForRevocations(handle, cache, silent);
        expect(cache.forgetAll).toHaveBeenCalledTimes(1);

        await server.halt();
        await server.resume();
        // postgres.js reconnects the listen connection with back-off (well under its 20 s cap here).
        await vi.waitFor(() => expect(cache.forgetAll).toHaveBeenCalledTimes(2), { timeout: 20_000, interval: 50 });

        const id = await vi.waitFor(() => insertToken(repo), { timeout: 10_000, interval: 100 });
        await repo.revoke(id, FIXTURE_TIME);
        await vi.waitFor(() => expect(cache.forgetToken).toHaveBeenCalledWith(id), { timeout: 2_000, interval: 5 });
        await listener.stop();
      } finally {
        await handle.close();
      }
    } finally {
      await server.stop();
    }
  }, 60_000);
});
