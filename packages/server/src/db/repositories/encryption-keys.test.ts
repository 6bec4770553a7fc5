import { randomBytes } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../client.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { insertRawRegistry, FIXTURE_TIME } from "@modbox/testkit/fixtures";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import { encryptionKeys, registries } from "../schema.js";
import { createEncryptionKeyRepository, type EncryptionKeyRepository } from "./encryption-keys.js";

const T1 = new Date("2025-01-03T03:04:05.999Z");
const T2 = new Date("2025-01-04T03:04:05.001Z");

/** A key id no other test uses: the table and the password counts are shared by the file. */
function freshKeyId(): string {
  return `k-${randomBytes(6).toString("hex")}`;
}

async function storedKey(db: Db, keyId: string) {
  const [row] = await db.select().from(encryptionKeys).where(eq(encryptionKeys.keyId, keyId));
  return row ?? null;
}

/**
 * `db` on which another process reserves one more encryption of `keyId` right after every read
 * of the key (the re-read `reserve` makes after a refused reservation), so that each retry asks
 * for one more than is left; counts the reservations attempted (UPDATEs).
 */
function racedAfterEveryRead(db: Db, keyId: string): { db: Db; updates: () => number } {
  let updates = 0;
  const competitor = () =>
    db.update(encryptionKeys).set({ encryptionsReserved: sql`${encryptionKeys.encryptionsReserved} + 1` }).where(eq(encryptionKeys.keyId, keyId));
  const raced = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "update") {
        return (...args: Parameters<Db["update"]>) => {
          updates++;
          return target.update(...args);
        };
      }
      if (prop === "select") {
        return (...args: Parameters<Db["select"]>) => ({
          from: (table: typeof encryptionKeys) => ({
            where: (condition: Parameters<ReturnType<ReturnType<Db["select"]>["from"]>["where"]>[0]) =>
              target
                .select(...args)
                .from(table)
                .where(condition)
                .then(async (rows) => {
                  await competitor();
                  return rows;
                }),
          }),
        });
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as Db;
  return { db: raced, updates: () => updates };
}

describe.each(backends)("encryption key repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let keys: EncryptionKeyRepository;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    keys = createEncryptionKeyRepository(db);
  });
  afterAll(() => testDb?.dispose());

  /** Inserts a live registry whose password is sealed by `keyId`. */
  const sealedBy = (keyId: string, workspaceId = freshWorkspaceId()) =>
    insertRawRegistry(db, workspaceId, { passwordKeyId: keyId, passwordCiphertext: `v1:${keyId}:${randomBytes(8).toString("hex")}` });
  /** Inserts a deleted registry that still names `keyId` but holds no ciphertext. */
  const tombstoneOf = (keyId: string) =>
    insertRawRegistry(db, freshWorkspaceId(), { passwordKeyId: keyId, passwordCiphertext: null, deletedAt: T1 });

  describe("record", () => {
    it("inserts the key's check value once", async () => {
      const keyId = freshKeyId();
      const expected = { keyId, checkValue: "cv-1", encryptionsReserved: 0, createdAt: FIXTURE_TIME, retiredAt: null };

      expect(await keys.record(keyId, "cv-1", FIXTURE_TIME)).toStrictEqual(expected);
      expect(await storedKey(db, keyId)).toStrictEqual(expected);
    });

    it("keeps the first check value when the key is recorded again with another, and returns the stored one", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv-first", FIXTURE_TIME);

      const second = await keys.record(keyId, "cv-second", T1);

      expect(second).toStrictEqual({ keyId, checkValue: "cv-first", encryptionsReserved: 0, createdAt: FIXTURE_TIME, retiredAt: null });
      expect((await keys.list()).filter((k) => k.keyId === keyId)).toStrictEqual([second]);
    });
  });

  describe("reserve", () => {
    it("grants what is wanted and moves the reserved total", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);

      expect(await keys.reserve(keyId, 10, 100)).toStrictEqual({ outcome: "granted", granted: 10, reservedTotal: 10 });
      expect(await keys.reserve(keyId, 5, 100)).toStrictEqual({ outcome: "granted", granted: 5, reservedTotal: 15 });
      expect((await storedKey(db, keyId))?.encryptionsReserved).toBe(15);
    });

    it("grants only what is left under max, then answers exhausted", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);
      await keys.reserve(keyId, 97, 100);

      expect(await keys.reserve(keyId, 10, 100)).toStrictEqual({ outcome: "granted", granted: 3, reservedTotal: 100 });
      expect(await keys.reserve(keyId, 1, 100)).toStrictEqual({ outcome: "exhausted" });
      expect((await storedKey(db, keyId))?.encryptionsReserved).toBe(100);
    });

    it("counts past 2^31 (a bigint column, the real budget is 2^32)", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);
      const max = 2 ** 32;

      expect(await keys.reserve(keyId, 2 ** 31 + 5, max)).toStrictEqual({ outcome: "granted", granted: 2 ** 31 + 5, reservedTotal: 2 ** 31 + 5 });
      expect(await keys.reserve(keyId, 2 ** 31, max)).toStrictEqual({ outcome: "granted", granted: 2 ** 31 - 5, reservedTotal: max });
      expect(await keys.reserve(keyId, 1, max)).toStrictEqual({ outcome: "exhausted" });
    });

    it("gives up as exhausted after five reservations lost to other processes, though some budget is left", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);
      await keys.reserve(keyId, 90, 100);
      const raced = racedAfterEveryRead(db, keyId);

      // Each attempt asks for what the last read left (10, 9, 8, 7, 6) and finds one fewer.
      expect(await createEncryptionKeyRepository(raced.db).reserve(keyId, 20, 100)).toStrictEqual({ outcome: "exhausted" });

      expect(raced.updates()).toBe(5);
      expect((await storedKey(db, keyId))?.encryptionsReserved).toBe(95);
    });

    it("refuses a retired key and reserves nothing", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);
      await keys.reserve(keyId, 4, 100);
      expect(await keys.retire(keyId, T1)).toStrictEqual({ outcome: "retired" });

      expect(await keys.reserve(keyId, 1, 100)).toStrictEqual({ outcome: "retired" });
      expect((await storedKey(db, keyId))?.encryptionsReserved).toBe(4);
    });

    it("refuses an unrecorded key and creates no row", async () => {
      const keyId = freshKeyId();

      expect(await keys.reserve(keyId, 1, 100)).toStrictEqual({ outcome: "unrecorded" });
      expect(await storedKey(db, keyId)).toBeNull();
    });

    it("never overshoots max under concurrent reservations, and grants all of it", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);

      // 20 × 7 = 140 asked for 100: on PostgreSQL these run on several pooled connections at once.
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => keys.reserve(keyId, 7, 100)));

      const granted = outcomes.flatMap((o) => (o.outcome === "granted" ? [o] : []));
      expect(outcomes.filter((o) => o.outcome !== "granted")).toStrictEqual(Array.from({ length: 5 }, () => ({ outcome: "exhausted" })));
      expect(granted.map((g) => g.granted).sort((a, b) => a - b)).toStrictEqual([2, ...Array.from({ length: 14 }, () => 7)]);
      // Each grant saw its own total: the reservations were applied one after another.
      expect(granted.map((g) => g.reservedTotal).sort((a, b) => a - b)).toStrictEqual([
        ...Array.from({ length: 14 }, (_, i) => 7 * (i + 1)),
        100,
      ]);
      expect((await storedKey(db, keyId))?.encryptionsReserved).toBe(100);
    });
  });

  describe("sealedCounts", () => {
    it("counts the stored passwords of each key, not tombstones", async () => {
      const [a, b, onlyTombstones] = [freshKeyId(), freshKeyId(), freshKeyId()];
      await sealedBy(a);
      await sealedBy(a);
      await tombstoneOf(a);
      await sealedBy(b);
      await tombstoneOf(onlyTombstones);

      const counts = await keys.sealedCounts();

      expect(counts.get(a)).toBe(2);
      expect(counts.get(b)).toBe(1);
      expect(counts.has(onlyTombstones)).toBe(false);
    });

    it("counts a password with no key id under no key", async () => {
      await insertRawRegistry(db, freshWorkspaceId(), { passwordKeyId: null, passwordCiphertext: "v1:unknown:sealed" });

      const counts = await keys.sealedCounts();

      expect(counts.has(null as unknown as string)).toBe(false);
    });
  });

  describe("sampleSealedBy", () => {
    it("returns a password sealed by the key, with its workspace and id", async () => {
      const keyId = freshKeyId();
      const row = await sealedBy(keyId);

      expect(await keys.sampleSealedBy(keyId)).toStrictEqual({
        id: row.id,
        workspaceId: row.workspaceId,
        passwordCiphertext: row.passwordCiphertext,
      });
    });

    it("returns null for a key that seals nothing but tombstones, and for an unknown key", async () => {
      const keyId = freshKeyId();
      await tombstoneOf(keyId);

      expect(await keys.sampleSealedBy(keyId)).toBeNull();
      expect(await keys.sampleSealedBy(freshKeyId())).toBeNull();
    });
  });

  describe("addEncryptions", () => {
    it("adds to each recorded key named, and records no unknown key", async () => {
      const [a, b, other, unknown] = [freshKeyId(), freshKeyId(), freshKeyId(), freshKeyId()];
      await keys.record(a, "cv-a", FIXTURE_TIME);
      await keys.record(b, "cv-b", FIXTURE_TIME);
      await keys.record(other, "cv-other", FIXTURE_TIME);
      await keys.reserve(b, 10, 100);

      await keys.addEncryptions([a, b, unknown], 3);

      expect((await storedKey(db, a))?.encryptionsReserved).toBe(3);
      expect((await storedKey(db, b))?.encryptionsReserved).toBe(13);
      expect((await storedKey(db, other))?.encryptionsReserved).toBe(0);
      expect(await storedKey(db, unknown)).toBeNull();
    });
  });

  describe("retire", () => {
    it("refuses while a stored password is sealed by the key, with the count", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);
      await sealedBy(keyId);
      await sealedBy(keyId);
      await tombstoneOf(keyId);

      expect(await keys.retire(keyId, T1)).toStrictEqual({ outcome: "in_use", sealed: 2 });
      expect((await storedKey(db, keyId))?.retiredAt).toBeNull();
      expect(await keys.reserve(keyId, 1, 100)).toMatchObject({ outcome: "granted" });
    });

    it("retires a key once no password is sealed by it, and only once", async () => {
      const keyId = freshKeyId();
      await keys.record(keyId, "cv", FIXTURE_TIME);
      const row = await sealedBy(keyId);
      expect(await keys.retire(keyId, T1)).toStrictEqual({ outcome: "in_use", sealed: 1 });
      // The password moves to another key (a rotation).
      await db.update(registries).set({ passwordKeyId: freshKeyId() }).where(eq(registries.id, row.id));

      expect(await keys.retire(keyId, T1)).toStrictEqual({ outcome: "retired" });
      expect(await keys.retire(keyId, T2)).toStrictEqual({ outcome: "already_retired" });

      expect((await storedKey(db, keyId))?.retiredAt).toStrictEqual(T1);
      expect(await keys.reserve(keyId, 1, 100)).toStrictEqual({ outcome: "retired" });
    });

    it("answers unrecorded for an unknown key, and records nothing", async () => {
      const keyId = freshKeyId();

      expect(await keys.retire(keyId, T1)).toStrictEqual({ outcome: "unrecorded" });
      expect(await storedKey(db, keyId)).toBeNull();
    });
  });

  it("a new repository samples and counts only the stored passwords the key seals", async () => {
    // A repository of its own: its condition on the key is built by createEncryptionKeyRepository,
    // and the mutation run credits what runs in a hook (the shared `keys`) to no test.
    const fresh = createEncryptionKeyRepository(db);
    const keyId = freshKeyId();
    await fresh.record(keyId, "cv", FIXTURE_TIME);
    await sealedBy(freshKeyId());
    await tombstoneOf(keyId);

    expect(await fresh.sampleSealedBy(keyId)).toBeNull();
    const row = await sealedBy(keyId);
    expect(await fresh.sampleSealedBy(keyId)).toStrictEqual({ id: row.id, workspaceId: row.workspaceId, passwordCiphertext: row.passwordCiphertext });
    expect(await fresh.retire(keyId, T1)).toStrictEqual({ outcome: "in_use", sealed: 1 });
  });

  it("lists recorded keys oldest first", async () => {
    const [older, newer] = [freshKeyId(), freshKeyId()];
    await keys.record(newer, "cv-newer", new Date("2030-01-02T00:00:00.000Z"));
    await keys.record(older, "cv-older", new Date("2030-01-01T00:00:00.000Z"));

    const ids = (await keys.list()).map((k) => k.keyId);

    expect(ids.slice(-2)).toStrictEqual([older, newer]);
  });
});
