import { randomBytes } from "node:crypto";
import { createCipher, createKeyring } from "@modbox/crypto";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { SealedPassword } from "../db/repositories/credential-rotation.js";
import { createCredentialRotationRepository, type RotationBatch } from "../db/repositories/credential-rotation.js";
import { createEncryptionKeyRepository } from "../db/repositories/encryption-keys.js";
import { encryptionKeys, registries } from "../db/schema.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { uuidv7 } from "@modbox/testkit/ids";
import { credentialContext } from "./credential-context.js";
import { createEncryptionBudget, type EncryptionBudget } from "./encryption-budget.js";
import { rotateToActiveKey, type RotationProgress } from "./key-rotation.js";
import { FIXTURE_TIME } from "@modbox/testkit/fixtures";

const k1 = { id: "k1", key: randomBytes(32) };
const k2 = { id: "k2", key: randomBytes(32) };
const oldCipher = createCipher(createKeyring({ keys: [k1], activeKeyId: "k1" }));
const cipher = createCipher(createKeyring({ keys: [k2, k1], activeKeyId: "k2" }));
const newOnlyCipher = createCipher(createKeyring({ keys: [k2], activeKeyId: "k2" }));

const WS = "ws-rotation";
/** Ids that sort in creation order, as UUIDv7 do. */
const idOf = (i: number) => `reg-${String(i).padStart(4, "0")}`;

/** A stored password sealed by k1 for its row; `opens: false` seals it for another row instead. */
function sealedRow(i: number, options: { opens?: boolean } = {}): SealedPassword {
  const id = idOf(i);
  const context = credentialContext(WS, options.opens === false ? `${id}-elsewhere` : id);
  return { id, workspaceId: WS, passwordCiphertext: oldCipher.encrypt(`pw-${i}`, context), passwordKeyId: "k1" };
}

/**
 * The rotation repository in memory: `rotateBatch` claims rows as the SQL does (not on the
 * active key, after `afterId`, in id order, up to `limit`), except rows `isBusy` says a
 * concurrent write holds in that pass (a pass starts with `afterId: null`).
 */
function fakeRotation(rows: SealedPassword[], options: { isBusy?: (id: string, pass: number) => boolean; log?: string[]; onBatch?: () => void } = {}) {
  const calls: { activeKeyId: string; afterId: string | null; limit: number }[] = [];
  let pass = 0;
  return {
    rows,
    calls,
    async rotateBatch(
      batchOptions: { activeKeyId: string; afterId: string | null; limit: number },
      reseal: (row: SealedPassword) => string | null,
    ): Promise<RotationBatch> {
      calls.push(batchOptions);
      options.log?.push(`batch after ${batchOptions.afterId ?? "start"}`);
      // A rotation that never ends fails here rather than hanging the run.
      if (calls.length > 1000) throw new Error("rotateBatch called more than 1000 times");
      if (batchOptions.afterId === null) pass++;
      const claimed = rows
        .filter((r) => r.passwordKeyId !== batchOptions.activeKeyId)
        .filter((r) => batchOptions.afterId === null || r.id > batchOptions.afterId)
        .filter((r) => !options.isBusy?.(r.id, pass))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, batchOptions.limit);
      const failedIds: string[] = [];
      for (const row of claimed) {
        const ciphertext = reseal({ ...row });
        if (ciphertext === null) failedIds.push(row.id);
        else Object.assign(row, { passwordCiphertext: ciphertext, passwordKeyId: batchOptions.activeKeyId });
      }
      options.onBatch?.();
      return { claimed: claimed.length, rotated: claimed.length - failedIds.length, failedIds, lastId: claimed.at(-1)?.id ?? null };
    },
    async countNotOn(keyId: string, exceptIds: readonly string[] = []): Promise<number> {
      return rows.filter((r) => r.passwordKeyId !== keyId && !exceptIds.includes(r.id)).length;
    },
  };
}

/** A budget that grants everything and records what was taken. */
function fakeBudget(log: string[] = []): EncryptionBudget & { taken: number[] } {
  const taken: number[] = [];
  return {
    taken,
    async take(n = 1) {
      taken.push(n);
      log.push(`take ${n}`);
    },
  };
}

function setup(rows: SealedPassword[], options: Parameters<typeof fakeRotation>[1] = {}) {
  const rotation = fakeRotation(rows, options);
  const budget = fakeBudget(options.log);
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };
  return { rotation, budget, sleeps, deps: { rotation, cipher, budget, sleep } };
}

describe("rotateToActiveKey", () => {
  it("rotates every password across several batches in one pass", async () => {
    const rows = Array.from({ length: 25 }, (_, i) => sealedRow(i));
    const { rotation, deps, sleeps } = setup(rows);

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    expect(summary).toMatchObject({ rotated: 25, failed: 0, failedIds: [], pass: 1, remaining: 0 });
    expect(rotation.calls).toStrictEqual([
      { activeKeyId: "k2", afterId: null, limit: 10 },
      { activeKeyId: "k2", afterId: idOf(9), limit: 10 },
      { activeKeyId: "k2", afterId: idOf(19), limit: 10 },
    ]);
    expect(sleeps).toStrictEqual([]);
    for (const [i, row] of rows.entries()) {
      expect(row.passwordKeyId).toBe("k2");
      expect(newOnlyCipher.decrypt(row.passwordCiphertext, credentialContext(WS, row.id))).toBe(`pw-${i}`);
    }
  });

  it("ends a pass once it has claimed the rows counted at its start, without an empty batch", async () => {
    const { rotation, deps } = setup(Array.from({ length: 20 }, (_, i) => sealedRow(i)));

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    expect(summary).toMatchObject({ rotated: 20, pass: 1, remaining: 0 });
    expect(rotation.calls.map((c) => c.afterId)).toStrictEqual([null, idOf(9)]);
  });

  it("does nothing, and reserves nothing, when every password is on the active key", async () => {
    const { rotation, budget, deps } = setup([]);

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    expect(summary).toMatchObject({ rotated: 0, pass: 0, remaining: 0, failedIds: [] });
    expect(rotation.calls).toStrictEqual([]);
    expect(budget.taken).toStrictEqual([]);
  });

  it("leaves passwords it cannot open, and counts each failure once even across passes", async () => {
    const rows = [sealedRow(0), sealedRow(1, { opens: false }), sealedRow(2), sealedRow(3, { opens: false }), sealedRow(4)];
    const before = rows.map((r) => ({ ...r }));
    // Row 2 is held by a concurrent write in the first pass, so a second pass runs over the failures again.
    const { rotation, deps } = setup(rows, { isBusy: (id, pass) => id === idOf(2) && pass === 1 });

    const summary = await rotateToActiveKey(deps, { batchSize: 2 });

    expect(summary).toMatchObject({ rotated: 3, failed: 2, pass: 2, remaining: 2 });
    expect(summary.failedIds).toStrictEqual([idOf(1), idOf(3)]);
    expect(rotation.calls.filter((c) => c.afterId === null)).toHaveLength(2);
    expect(rows[1]).toStrictEqual(before[1]);
    expect(rows[3]).toStrictEqual(before[3]);
    expect(rows[2]!.passwordKeyId).toBe("k2");
  });

  it("does not report a failure that a write fixed before the last pass", async () => {
    const rows = [sealedRow(0, { opens: false }), sealedRow(1)];
    let batches = 0;
    // Row 1 is busy in the first pass; after that pass, a PUT gives row 0 a new password on k2.
    const { deps } = setup(rows, {
      isBusy: (id, pass) => id === idOf(1) && pass === 1,
      onBatch: () => {
        if (++batches === 1) Object.assign(rows[0]!, { passwordCiphertext: cipher.encrypt("new", credentialContext(WS, idOf(0))), passwordKeyId: "k2" });
      },
    });

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    expect(summary).toMatchObject({ rotated: 1, pass: 2, remaining: 0, failedIds: [] });
  });

  it("stops after one pass when the only rows left are failures", async () => {
    const { rotation, deps, sleeps } = setup([sealedRow(0), sealedRow(1, { opens: false })]);

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    expect(summary).toMatchObject({ rotated: 1, failed: 1, failedIds: [idOf(1)], pass: 1, remaining: 1 });
    expect(rotation.calls).toHaveLength(1);
    expect(sleeps).toStrictEqual([]);
  });

  it("makes another pass, after a pause, for rows a concurrent write held", async () => {
    const rows = Array.from({ length: 6 }, (_, i) => sealedRow(i));
    const busy = new Set([idOf(1), idOf(4)]);
    const { rotation, deps, sleeps } = setup(rows, { isBusy: (id, pass) => busy.has(id) && pass === 1 });

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    expect(summary).toMatchObject({ rotated: 6, failed: 0, failedIds: [], pass: 2, remaining: 0 });
    expect(rotation.calls.map((c) => c.afterId)).toStrictEqual([null, null]);
    expect(sleeps).toHaveLength(1);
    expect(rows.every((r) => r.passwordKeyId === "k2")).toBe(true);
  });

  it("gives up after a bounded number of passes and reports what remains", async () => {
    const rows = [sealedRow(0), sealedRow(1), sealedRow(2, { opens: false })];
    // Row 1 is held in every pass.
    const { rotation, deps, sleeps } = setup(rows, { isBusy: (id) => id === idOf(1) });

    const summary = await rotateToActiveKey(deps, { batchSize: 10 });

    // The first pass and MAX_PASSES (10) more, each after a pause.
    expect(summary).toMatchObject({ rotated: 1, failed: 1, failedIds: [idOf(2)], pass: 11, remaining: 2 });
    expect(rotation.calls).toHaveLength(11);
    expect(sleeps).toHaveLength(10);
    expect(rows[1]!.passwordKeyId).toBe("k1");
  });

  it("reserves the budget of a batch before every batch, no more than the rows left", async () => {
    const log: string[] = [];
    const { budget, deps } = setup(Array.from({ length: 7 }, (_, i) => sealedRow(i)), { log });

    await rotateToActiveKey(deps, { batchSize: 3 });

    expect(log).toStrictEqual([
      "take 3",
      "batch after start",
      "take 3",
      `batch after ${idOf(2)}`,
      "take 1",
      `batch after ${idOf(5)}`,
    ]);
    expect(budget.taken).toStrictEqual([3, 3, 1]);
  });

  it("rotates nothing when the budget refuses", async () => {
    const rows = [sealedRow(0)];
    const { rotation, deps } = setup(rows);
    const refusal = new Error("encryption_key_unavailable");

    await expect(rotateToActiveKey({ ...deps, budget: { take: () => Promise.reject(refusal) } }, { batchSize: 10 })).rejects.toBe(refusal);

    expect(rotation.calls).toStrictEqual([]);
    expect(rows[0]!.passwordKeyId).toBe("k1");
  });

  it("reports progress after every batch", async () => {
    let now = 1000;
    const rows = [sealedRow(0), sealedRow(1, { opens: false }), sealedRow(2), sealedRow(3), sealedRow(4)];
    // Each batch takes 250 ms on the fake clock; row 3 is held in the first pass.
    const { deps } = setup(rows, { isBusy: (id, pass) => id === idOf(3) && pass === 1, onBatch: () => (now += 250) });
    const reports: RotationProgress[] = [];

    const summary = await rotateToActiveKey({ ...deps, clock: () => now }, { batchSize: 3, onProgress: (p) => reports.push(p) });

    expect(reports).toStrictEqual([
      { rotated: 2, failed: 1, pass: 1, elapsedMs: 250 },
      { rotated: 3, failed: 1, pass: 1, elapsedMs: 500 },
      { rotated: 4, failed: 1, pass: 2, elapsedMs: 750 },
    ]);
    expect(summary).toStrictEqual({ rotated: 4, failed: 1, pass: 2, elapsedMs: 750, failedIds: [idOf(1)], remaining: 1 });
  });
});

describe("rotateToActiveKey without a clock or sleep of its own", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pauses 200 ms between passes, and measures the time taken on the process clock", async () => {
    vi.useFakeTimers();
    const rows = [sealedRow(0), sealedRow(1)];
    // Row 1 is held in the first pass, so a second pass follows the pause.
    const { rotation, budget } = setup(rows, { isBusy: (id, pass) => id === idOf(1) && pass === 1 });
    let summary: Awaited<ReturnType<typeof rotateToActiveKey>> | undefined;
    void rotateToActiveKey({ rotation, cipher, budget }, { batchSize: 10 }).then((s) => (summary = s));

    await vi.advanceTimersByTimeAsync(199);
    expect(summary).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);

    expect(summary).toMatchObject({ rotated: 2, pass: 2, remaining: 0, elapsedMs: 200 });
  });
});

describe.each(backends)("rotateToActiveKey over %s", (backend) => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
  });
  afterAll(() => testDb?.dispose());

  it("rotates 345 passwords in batches of 100 and leaves none on the old key", async () => {
    const { db } = testDb.handle;
    const keys = createEncryptionKeyRepository(db);
    const rotation = createCredentialRotationRepository(db);
    const created = FIXTURE_TIME;
    const rows = Array.from({ length: 345 }, (_, i) => {
      const id = uuidv7();
      const workspaceId = `ws-${i % 7}`;
      return {
        id,
        workspaceId,
        name: `registry-${i}`,
        server: "ghcr.io",
        username: "robot",
        passwordCiphertext: oldCipher.encrypt(`pw-${i}`, credentialContext(workspaceId, id)),
        passwordKeyId: "k1",
        createdAt: created,
        updatedAt: created,
      };
    });
    for (let i = 0; i < rows.length; i += 200) await db.insert(registries).values(rows.slice(i, i + 200));
    await keys.record("k2", cipher.keyCheckValue("k2"), created);
    const budget = createEncryptionBudget({ keys, keyId: "k2", blockSize: 100, onWarning: () => {} });
    const passes: number[] = [];

    const summary = await rotateToActiveKey(
      { rotation, cipher, budget },
      { batchSize: 100, onProgress: (p) => passes.push(p.pass) },
    );

    expect(summary).toMatchObject({ rotated: 345, failed: 0, failedIds: [], pass: 1, remaining: 0 });
    // 3 full batches and one of 45.
    expect(passes).toStrictEqual(Array.from({ length: 4 }, () => 1));
    expect(await rotation.countNotOn("k2")).toBe(0);
    expect(await rotation.countNotOn("k1")).toBe(345);
    const stored = await db
      .select({ id: registries.id, workspaceId: registries.workspaceId, passwordCiphertext: registries.passwordCiphertext })
      .from(registries);
    const passwords = new Map(stored.map((r) => [r.id, newOnlyCipher.decrypt(r.passwordCiphertext!, credentialContext(r.workspaceId, r.id))]));
    expect(rows.map((r) => passwords.get(r.id))).toStrictEqual(rows.map((_, i) => `pw-${i}`));
    // One reservation of 100 before each of the 4 batches.
    const [key] = await db.select().from(encryptionKeys).where(eq(encryptionKeys.keyId, "k2"));
    expect(key?.encryptionsReserved).toBe(400);
  });

  it("resumes after a crash in the middle of a batch: the committed batches stay, the rest is done by running it again", async () => {
    const { db } = testDb.handle;
    await db.delete(registries);
    const keys = createEncryptionKeyRepository(db);
    const rotation = createCredentialRotationRepository(db);
    const created = FIXTURE_TIME;
    const rows = Array.from({ length: 250 }, (_, i) => {
      const id = uuidv7();
      return {
        id,
        workspaceId: WS,
        name: `crash-${i}`,
        server: "ghcr.io",
        username: "robot",
        passwordCiphertext: oldCipher.encrypt(`pw-${i}`, credentialContext(WS, id)),
        passwordKeyId: "k1",
        createdAt: created,
        updatedAt: created,
      };
    });
    await db.insert(registries).values(rows);
    await keys.record("k2", cipher.keyCheckValue("k2"), created);
    const budget = createEncryptionBudget({ keys, keyId: "k2", blockSize: 100, onWarning: () => {} });
    // The process dies while re-encrypting the 31st row of the 4th batch: its transaction never commits.
    let resealed = 0;
    const crashing = {
      ...rotation,
      rotateBatch: (options: Parameters<typeof rotation.rotateBatch>[0], reseal: Parameters<typeof rotation.rotateBatch>[1]) =>
        rotation.rotateBatch(options, (row) => {
          if (++resealed === 3 * 50 + 31) throw new Error("killed");
          return reseal(row);
        }),
    };

    await expect(rotateToActiveKey({ rotation: crashing, cipher, budget }, { batchSize: 50 })).rejects.toThrow("killed");
    expect(await rotation.countNotOn("k2")).toBe(100);

    const again = await rotateToActiveKey({ rotation, cipher, budget }, { batchSize: 50 });

    expect(again).toMatchObject({ rotated: 100, remaining: 0, failedIds: [] });
    const stored = await db
      .select({ id: registries.id, passwordCiphertext: registries.passwordCiphertext })
      .from(registries);
    const passwords = new Map(stored.map((r) => [r.id, newOnlyCipher.decrypt(r.passwordCiphertext!, credentialContext(WS, r.id))]));
    expect(rows.map((r) => passwords.get(r.id))).toStrictEqual(rows.map((_, i) => `pw-${i}`));
  });
});
