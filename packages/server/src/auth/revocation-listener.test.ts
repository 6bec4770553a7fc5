import { createHash, randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backends, createTestDatabase, postgresAdminUrl, type TestDatabase } from "@modbox/testkit/databases";
import { FIXTURE_TIME } from "@modbox/testkit/fixtures";
import { uuidv7 } from "@modbox/testkit/ids";
import { createPostgresTestDatabase, postgresBinariesAvailable, startPostgresServer } from "@modbox/testkit/postgres";
import { openDatabase, type DatabaseHandle } from "../db/client.js";
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

/**
 * A database whose listen the test drives: `notify` delivers a payload, `reconnect` re-establishes
 * the listen. The listen is established once before `listen` resolves, as the real ones do.
 */
function fakeDatabase(unlisten: () => Promise<void> = async () => {}) {
  const channels: string[] = [];
  let notify: (payload: string) => void = () => {};
  let reconnect: () => void = () => {};
  const stopListening = vi.fn(unlisten);
  const handle = {
    listen: async (channel: string, onNotify: (payload: string) => void, onListen: () => void) => {
      channels.push(channel);
      notify = onNotify;
      reconnect = onListen;
      onListen();
      return stopListening;
    },
  } as Pick<DatabaseHandle, "listen"> as DatabaseHandle;
  return { handle, channels, stopListening, notify: (payload: string) => notify(payload), reconnect: () => reconnect() };
}

/** A logger that keeps what it writes, as parsed JSON lines. */
function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "debug", base: undefined, timestamp: false }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const LEVEL = { debug: 20, info: 30, warn: 40 };

describe("listenForRevocations (a driven listen)", () => {
  it("listens on the revocation channel and has every cached token checked when the listen starts, logging nothing", async () => {
    const database = fakeDatabase();
    const { logger, lines } = recordingLogger();
    const cache = target();
    await listenForRevocations(database.handle, cache, logger);
    expect(database.channels).toEqual([TOKEN_REVOCATIONS_CHANNEL]);
    expect(cache.forgetAll).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([]);
  });

  it("forgets the token a notice names (in lowercase) and logs its id", async () => {
    const database = fakeDatabase();
    const { logger, lines } = recordingLogger();
    const cache = target();
    await listenForRevocations(database.handle, cache, logger);
    database.notify("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B");
    expect(cache.forgetToken.mock.calls).toEqual([["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"]]);
    expect(cache.forgetAll).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([
      { level: LEVEL.info, tokenId: "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", msg: "token revoked: dropped from the cache" },
    ]);
  });

  it("has every cached token checked again on a notice that is not a token id, and warns", async () => {
    const database = fakeDatabase();
    const { logger, lines } = recordingLogger();
    const cache = target();
    await listenForRevocations(database.handle, cache, logger);
    database.notify("not-a-token-id");
    expect(cache.forgetToken).not.toHaveBeenCalled();
    expect(cache.forgetAll).toHaveBeenCalledTimes(2);
    expect(lines).toEqual([
      { level: LEVEL.warn, msg: "unrecognised token revocation notice: every cached token will be checked again" },
    ]);
  });

  it("warns each time the listen is re-established, not when it is first established", async () => {
    const database = fakeDatabase();
    const { logger, lines } = recordingLogger();
    const cache = target();
    await listenForRevocations(database.handle, cache, logger);
    database.reconnect();
    database.reconnect();
    expect(cache.forgetAll).toHaveBeenCalledTimes(3);
    const warning = { level: LEVEL.warn, msg: "token revocation listener reconnected: every cached token will be checked again" };
    expect(lines).toEqual([warning, warning]);
  });

  it("stops listening once, however often stop is called", async () => {
    const database = fakeDatabase();
    const listener = await listenForRevocations(database.handle, target(), recordingLogger().logger);
    await listener.stop();
    await listener.stop();
    expect(database.stopListening).toHaveBeenCalledTimes(1);
  });

  it.each([
    ["an Error", new TypeError("socket closed"), "TypeError"],
    ["anything else", "socket closed", "error"],
  ])("does not throw when unlistening fails with %s, and logs only the error's kind", async (_kind, failure, logged) => {
    const database = fakeDatabase(() => Promise.reject(failure));
    const { logger, lines } = recordingLogger();
    const listener = await listenForRevocations(database.handle, target(), logger);
    await expect(listener.stop()).resolves.toBeUndefined();
    await expect(listener.stop()).resolves.toBeUndefined();
    expect(database.stopListening).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([{ level: LEVEL.debug, err: logged, msg: "token revocation listener: unlisten failed" }]);
  });
});

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
