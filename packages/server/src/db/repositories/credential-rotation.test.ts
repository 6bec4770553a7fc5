import { randomBytes } from "node:crypto";
import { createCipher, createKeyring, type Cipher } from "@modbox/crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  createTestDatabase,
  postgresAdminUrl,
  requirePostgresAdminUrl,
  type TestDatabase,
} from "@modbox/testkit/databases";
import { insertRawRegistry } from "@modbox/testkit/fixtures";
import { freshWorkspaceId, uuidv7 } from "@modbox/testkit/ids";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import { credentialContext } from "../../services/credential-context.js";
import { openDatabase, type DatabaseHandle, type Db } from "../client.js";
import { migrateDatabase } from "../migrate.js";
import { registries } from "../schema.js";
import { createCredentialRotationRepository, type SealedPassword } from "./credential-rotation.js";

const T1 = new Date("2025-01-03T03:04:05.999Z");

const k1 = { id: "k1", key: randomBytes(32) };
const k2 = { id: "k2", key: randomBytes(32) };
/** The configuration before the rotation: k1 seals. */
const oldCipher = createCipher(createKeyring({ keys: [k1], activeKeyId: "k1" }));
/** The configuration of the rotation: k2 seals, k1 still opens. */
const cipher = createCipher(createKeyring({ keys: [k2, k1], activeKeyId: "k2" }));
/** The configuration once k1 is retired: what rotated rows must open with. */
const newOnlyCipher = createCipher(createKeyring({ keys: [k2], activeKeyId: "k2" }));

/** What `keys rotate` does with a claimed row: open with any configured key, seal with the active one. */
function reseal(row: SealedPassword): string | null {
  const context = credentialContext(row.workspaceId, row.id);
  try {
    return cipher.encrypt(cipher.decrypt(row.passwordCiphertext, context), context);
  } catch {
    return null;
  }
}

/** Inserts a live registry whose password is sealed by `sealer` for that very row. */
async function insertSealed(db: Db, password: string, sealer: Cipher = oldCipher, overrides: Partial<typeof registries.$inferInsert> = {}) {
  const id = uuidv7();
  const workspaceId = freshWorkspaceId();
  const passwordCiphertext = sealer.encrypt(password, credentialContext(workspaceId, id));
  return insertRawRegistry(db, workspaceId, { id, passwordCiphertext, passwordKeyId: sealer.activeKeyId, ...overrides });
}

/** The whole stored row. */
async function rawRow(db: Db, id: string) {
  const [row] = await db.select().from(registries).where(eq(registries.id, id));
  return row!;
}

function openWith(c: Cipher, row: { id: string; workspaceId: string; passwordCiphertext: string | null }): string {
  return c.decrypt(row.passwordCiphertext!, credentialContext(row.workspaceId, row.id));
}

describe.each(backends)("credential rotation repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let rotation: ReturnType<typeof createCredentialRotationRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    rotation = createCredentialRotationRepository(db);
  });
  afterAll(() => testDb?.dispose());
  // The rotation is over the whole table, every workspace: each test starts from an empty one.
  beforeEach(async () => {
    await db.delete(registries);
  });

  it("re-encrypts passwords sealed by the old key to the active key, and they open to the same password", async () => {
    const rows = [await insertSealed(db, "pw-one"), await insertSealed(db, "pw-two"), await insertSealed(db, "pw-three")];

    const batch = await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);

    expect(batch).toStrictEqual({ claimed: 3, rotated: 3, failedIds: [], lastId: rows[2]!.id });
    for (const [i, password] of ["pw-one", "pw-two", "pw-three"].entries()) {
      const stored = await rawRow(db, rows[i]!.id);
      expect(stored.passwordKeyId).toBe("k2");
      expect(stored.passwordCiphertext).toMatch(/^v1:k2:/);
      expect(openWith(cipher, stored)).toBe(password);
      // Opens without k1: the key can leave the configuration.
      expect(openWith(newOnlyCipher, stored)).toBe(password);
    }
  });

  it("leaves passwords already on the active key, and tombstones, untouched", async () => {
    const onActive = await insertSealed(db, "pw-new", cipher);
    const tombstone = await insertRawRegistry(db, freshWorkspaceId(), { passwordCiphertext: null, passwordKeyId: null, deletedAt: T1 });
    // A tombstone that still names the old key: no ciphertext, nothing to rotate.
    const namedTombstone = await insertRawRegistry(db, freshWorkspaceId(), { passwordCiphertext: null, passwordKeyId: "k1", deletedAt: T1 });
    const onOld = await insertSealed(db, "pw-old");
    const before = await Promise.all([onActive, tombstone, namedTombstone].map((r) => rawRow(db, r.id)));
    const handed: string[] = [];

    const batch = await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, (row) => {
      handed.push(row.id);
      return reseal(row);
    });

    expect(handed).toStrictEqual([onOld.id]);
    expect(batch).toStrictEqual({ claimed: 1, rotated: 1, failedIds: [], lastId: onOld.id });
    expect(await Promise.all([onActive, tombstone, namedTombstone].map((r) => rawRow(db, r.id)))).toStrictEqual(before);
  });

  it("keeps version and updated_at: the credential did not change", async () => {
    const row = await insertSealed(db, "pw", oldCipher, { version: 7, updatedAt: T1 });
    const before = await rawRow(db, row.id);

    await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);

    const after = await rawRow(db, row.id);
    expect(after.passwordKeyId).toBe("k2");
    expect(after).toStrictEqual({ ...before, passwordCiphertext: after.passwordCiphertext, passwordKeyId: "k2" });
    expect(after.version).toBe(7);
    expect(after.updatedAt).toStrictEqual(T1);
  });

  it("leaves a password it cannot open exactly as it was and reports it", async () => {
    const good = await insertSealed(db, "pw-good");
    // A ciphertext sealed for another row: its context does not match, so it does not open.
    const moved = await insertSealed(db, "pw-moved", oldCipher, {
      passwordCiphertext: oldCipher.encrypt("pw-moved", credentialContext("ws-elsewhere", uuidv7())),
    });
    const before = await rawRow(db, moved.id);

    const batch = await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);

    expect(batch).toStrictEqual({ claimed: 2, rotated: 1, failedIds: [moved.id], lastId: moved.id });
    expect(await rawRow(db, moved.id)).toStrictEqual(before);
    expect((await rawRow(db, good.id)).passwordKeyId).toBe("k2");
  });

  it("walks the table in id order, `limit` rows at a time after `afterId`, without repeats", async () => {
    const onOld: string[] = [];
    for (let i = 0; i < 8; i++) {
      onOld.push((await insertSealed(db, `pw-${i}`)).id);
      if (i % 3 === 0) await insertSealed(db, `pw-new-${i}`, cipher);
    }
    // Every row fails, so every row stays on k1: only `afterId` keeps a batch from claiming it again.
    const handed: string[][] = [];
    const batches = [];
    let afterId: string | null = null;
    for (let i = 0; i < 10; i++) {
      const ids: string[] = [];
      const batch = await rotation.rotateBatch({ activeKeyId: "k2", afterId, limit: 3 }, (row) => {
        ids.push(row.id);
        return null;
      });
      handed.push(ids);
      batches.push(batch);
      if (batch.claimed < 3) break;
      afterId = batch.lastId;
    }

    expect(handed).toStrictEqual([onOld.slice(0, 3), onOld.slice(3, 6), onOld.slice(6, 8)]);
    expect(batches.map((b) => [b.claimed, b.lastId])).toStrictEqual([
      [3, onOld[2]],
      [3, onOld[5]],
      [2, onOld[7]],
    ]);
    expect(batches.flatMap((b) => b.failedIds)).toStrictEqual(onOld);
  });

  it("answers an empty batch past the last row", async () => {
    const row = await insertSealed(db, "pw");

    expect(await rotation.rotateBatch({ activeKeyId: "k2", afterId: row.id, limit: 10 }, reseal)).toStrictEqual({
      claimed: 0,
      rotated: 0,
      failedIds: [],
      lastId: null,
    });
    expect((await rawRow(db, row.id)).passwordKeyId).toBe("k1");
  });

  it("counts the stored passwords not on a key", async () => {
    await insertSealed(db, "a");
    await insertSealed(db, "b");
    await insertRawRegistry(db, freshWorkspaceId(), { passwordCiphertext: "v1:k0:sealed", passwordKeyId: "k0" });
    await insertSealed(db, "c", cipher);
    await insertRawRegistry(db, freshWorkspaceId(), { passwordCiphertext: null, passwordKeyId: "k1", deletedAt: T1 });
    await insertRawRegistry(db, freshWorkspaceId(), { passwordCiphertext: null, passwordKeyId: null, deletedAt: T1 });

    expect(await rotation.countNotOn("k2")).toBe(3);
    expect(await rotation.countNotOn("k1")).toBe(2);
    expect(await rotation.countNotOn("k0")).toBe(3);

    await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);

    // k0 is not in the keyring: that one stays, and leaving it out as a known failure counts 0.
    expect(await rotation.countNotOn("k2")).toBe(1);
    const [stuck] = await db.select({ id: registries.id }).from(registries).where(eq(registries.passwordKeyId, "k0"));
    expect(await rotation.countNotOn("k2", [stuck!.id])).toBe(0);
  });
});

/**
 * A database with two independent handles (two connection pools): what the API server and
 * `keys rotate` are on a shared PostgreSQL.
 */
describe.skipIf(!postgresAdminUrl)("credential rotation beside concurrent writers on PostgreSQL", () => {
  let fresh: PostgresTestDatabase;
  let rotator: DatabaseHandle;
  let api: DatabaseHandle;

  beforeAll(async () => {
    fresh = await createPostgresTestDatabase(requirePostgresAdminUrl());
    // A rotation that waits on a row lock, as it must not, fails after 10 s instead of hanging
    // the file (postgres.js sends unknown URL parameters as session settings).
    const rotatorUrl = new URL(fresh.url);
    rotatorUrl.searchParams.set("lock_timeout", "10s");
    rotator = await openDatabase({ kind: "postgres", url: rotatorUrl.toString() });
    api = await openDatabase({ kind: "postgres", url: fresh.url });
    await migrateDatabase(rotator);
  });
  afterAll(async () => {
    await api?.close();
    await rotator?.close();
    await fresh?.drop();
  });
  beforeEach(async () => {
    await rotator.db.delete(registries);
  });

  /** Opens a transaction on the API's pool that locks the row, and holds it until released. */
  async function holdRowLock(id: string) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const done = api.db.transaction(async (tx) => {
      await tx.select({ id: registries.id }).from(registries).where(eq(registries.id, id)).for("update");
      locked();
      await released;
    });
    // A failure before the lock is taken must not leave the test waiting for it.
    await Promise.race([isLocked, done]);
    return {
      done,
      async commit() {
        release();
        await done;
      },
    };
  }

  it("skips a row another transaction holds, without waiting for it, and a later batch rotates it", async () => {
    const rotation = createCredentialRotationRepository(rotator.db);
    const [a, busy, c] = [await insertSealed(rotator.db, "pw-a"), await insertSealed(rotator.db, "pw-busy"), await insertSealed(rotator.db, "pw-c")];
    const busyBefore = await rawRow(rotator.db, busy.id);
    const holder = await holdRowLock(busy.id);
    let first;
    try {
      // Would wait on the lock (until lock_timeout cancels it) if the row were not skipped.
      first = await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);
      expect(await rawRow(rotator.db, busy.id)).toStrictEqual(busyBefore);
    } finally {
      await holder.commit();
    }

    expect(first).toStrictEqual({ claimed: 2, rotated: 2, failedIds: [], lastId: c.id });
    expect((await rawRow(rotator.db, a.id)).passwordKeyId).toBe("k2");
    expect(await rotation.countNotOn("k2")).toBe(1);

    const second = await rotation.rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);

    expect(second).toStrictEqual({ claimed: 1, rotated: 1, failedIds: [], lastId: busy.id });
    const stored = await rawRow(rotator.db, busy.id);
    expect(stored.passwordKeyId).toBe("k2");
    expect(openWith(newOnlyCipher, stored)).toBe("pw-busy");
    expect(await rotation.countNotOn("k2")).toBe(0);
  });

  it("never overwrites a new password a concurrent PUT writes after the batch claimed the row", async () => {
    const row = await insertSealed(rotator.db, "pw-old");
    const context = credentialContext(row.workspaceId, row.id);
    const putCiphertext = cipher.encrypt("pw-from-put", context);
    let put: Promise<unknown> | undefined;
    let putWasWaiting = false;

    // The batch pauses between claiming its rows and writing them: the PUT is sent then, and the
    // batch goes on once PostgreSQL shows the PUT waiting for the row.
    const paused = pauseBeforeWrite(rotator.db, async () => {
      put = api.db
        .update(registries)
        .set({ passwordCiphertext: putCiphertext, passwordKeyId: "k2", updatedAt: T1, version: sql`${registries.version} + 1` })
        .where(eq(registries.id, row.id))
        .execute();
      putWasWaiting = await waitUntilBlocked(rotator.db);
    });
    const batch = await createCredentialRotationRepository(paused).rotateBatch({ activeKeyId: "k2", afterId: null, limit: 10 }, reseal);
    await put;

    expect(putWasWaiting).toBe(true);
    // The batch did write its re-encryption: the PUT's password went over it, never the reverse.
    expect(batch).toStrictEqual({ claimed: 1, rotated: 1, failedIds: [], lastId: row.id });
    const stored = await rawRow(rotator.db, row.id);
    expect(stored).toMatchObject({ passwordCiphertext: putCiphertext, passwordKeyId: "k2", version: 2, updatedAt: T1 });
    expect(openWith(newOnlyCipher, stored)).toBe("pw-from-put");
  });
});

/**
 * `db` whose transactions run `beforeWrite` before their first `execute` (the batch's UPDATE),
 * that is after the batch's SELECT … FOR UPDATE has claimed its rows.
 */
function pauseBeforeWrite(db: Db, beforeWrite: () => Promise<void>): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== "transaction") return Reflect.get(target, prop, receiver);
      return (run: (tx: unknown) => Promise<unknown>, config?: unknown) =>
        target.transaction(
          (tx) =>
            run(
              new Proxy(tx, {
                get(txTarget, txProp) {
                  const value = Reflect.get(txTarget, txProp, txTarget);
                  if (txProp === "execute") {
                    return async (query: unknown) => {
                      await beforeWrite();
                      return (value as (q: unknown) => unknown).call(txTarget, query);
                    };
                  }
                  return typeof value === "function" ? value.bind(txTarget) : value;
                },
              }),
            ),
          config as never,
        );
    },
  }) as Db;
}

/** Whether an UPDATE of registries in another session comes to wait for a lock, within a bounded wait. */
async function waitUntilBlocked(db: Db): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const rows = (await db.execute(sql`
      select 1 from pg_stat_activity
      where pid <> pg_backend_pid() and datname = current_database()
        and wait_event_type = 'Lock' and query like 'update "registries"%'`)) as unknown as unknown[];
    if (rows.length > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}
