import { randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../client.js";
import { idempotencyKeys } from "../schema.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import {
  createIdempotencyKeyRepository,
  type IdempotencyKeyRepository,
  type IdempotencyRecord,
  type IdempotencyScope,
  type NewClaim,
  type StoredAnswer,
} from "./idempotency-keys.js";

const T0 = new Date("2025-01-02T03:04:05.678Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
/** The instant the tests call "now". */
const NOW = at(60_000);

function freshScope(): IdempotencyScope {
  return { tokenId: `tok-${randomBytes(4).toString("hex")}`, workspaceId: freshWorkspaceId(), key: `key-${randomBytes(4).toString("hex")}` };
}

/** The three scopes that share all but one part with `scope`: a query missing that part's condition reaches them. */
function lookAlikesOf(scope: IdempotencyScope): IdempotencyScope[] {
  return [
    { ...scope, tokenId: `${scope.tokenId}-other` },
    { ...scope, workspaceId: freshWorkspaceId() },
    { ...scope, key: `${scope.key}-other` },
  ];
}

function claimOf(overrides: Partial<NewClaim> = {}): NewClaim {
  return { fingerprint: "fp-first", leaseUntil: at(30_000), createdAt: T0, expiresAt: at(86_400_000), ...overrides };
}

const ANSWER: StoredAnswer = {
  status: 201,
  headers: { "content-type": "application/json", etag: '"v1"', location: "/v1/registries/r1" },
  body: '{"id":"r1"}',
};

function runningRecord(scope: IdempotencyScope, claim: NewClaim): IdempotencyRecord {
  return { ...scope, ...claim, state: "running", responseStatus: null, responseHeaders: null, responseBody: null };
}

function answeredRecord(scope: IdempotencyScope, claim: NewClaim, answer: StoredAnswer = ANSWER): IdempotencyRecord {
  return { ...scope, ...claim, state: "answered", responseStatus: answer.status, responseHeaders: answer.headers, responseBody: answer.body };
}

/** The stored row of `scope`, read around the repository. */
async function storedRow(db: Db, scope: IdempotencyScope): Promise<IdempotencyRecord | null> {
  const [row] = await db
    .select()
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.tokenId, scope.tokenId),
        eq(idempotencyKeys.workspaceId, scope.workspaceId),
        eq(idempotencyKeys.key, scope.key),
      ),
    );
  return row ?? null;
}

/** Inserts a row as it would stand, around the repository. */
async function insertRow(db: Db, record: IdempotencyRecord): Promise<IdempotencyRecord> {
  await db.insert(idempotencyKeys).values(record);
  return record;
}

describe.each(backends)("idempotency key repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let keys: IdempotencyKeyRepository;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    keys = createIdempotencyKeyRepository(db);
  });
  afterAll(() => testDb?.dispose());
  // `deleteExpired` sweeps the whole table: each test starts from an empty one.
  beforeEach(async () => {
    await db.delete(idempotencyKeys);
  });

  /** Inserts `build` of each look-alike of `scope`: the rows a query missing one scope condition would reach. */
  async function insertLookAlikes(scope: IdempotencyScope, build: (s: IdempotencyScope) => IdempotencyRecord) {
    const rows: IdempotencyRecord[] = [];
    for (const other of lookAlikesOf(scope)) rows.push(await insertRow(db, build(other)));
    return rows;
  }

  /** The stored rows of `rows`' scopes, in their order. */
  async function storedRows(rows: readonly IdempotencyScope[]) {
    return Promise.all(rows.map((r) => storedRow(db, r)));
  }

  describe("claim", () => {
    it("inserts the key as running, with the claim's fingerprint, lease and times and no answer", async () => {
      const scope = freshScope();
      const claim = claimOf();

      expect(await keys.claim(scope, claim)).toBe(true);

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, claim));
    });

    it("answers false and keeps the first claim when the key is running already", async () => {
      const scope = freshScope();
      const first = claimOf();
      await keys.claim(scope, first);

      expect(await keys.claim(scope, claimOf({ fingerprint: "fp-second", leaseUntil: at(45_000), createdAt: at(1), expiresAt: at(2) }))).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, first));
    });

    it("answers false and keeps the stored answer when the key is answered already", async () => {
      const scope = freshScope();
      const answered = await insertRow(db, answeredRecord(scope, claimOf()));

      expect(await keys.claim(scope, claimOf({ fingerprint: "fp-second" }))).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(answered);
    });

    it("claims a key whose token, workspace or key name differs from a held one", async () => {
      const scope = freshScope();
      await keys.claim(scope, claimOf());

      for (const other of lookAlikesOf(scope)) {
        expect(await keys.claim(other, claimOf({ fingerprint: "fp-other" }))).toBe(true);
        expect(await storedRow(db, other)).toStrictEqual(runningRecord(other, claimOf({ fingerprint: "fp-other" })));
      }
      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, claimOf()));
    });
  });

  describe("find", () => {
    it("returns the stored row of the scope, not a look-alike's", async () => {
      const scope = freshScope();
      const own = await insertRow(db, answeredRecord(scope, claimOf({ fingerprint: "fp-own" })));
      await insertLookAlikes(scope, (s) => runningRecord(s, claimOf({ fingerprint: "fp-look-alike" })));

      expect(await keys.find(scope)).toStrictEqual(own);
    });

    it("returns each look-alike's own row", async () => {
      const scope = freshScope();
      await insertRow(db, runningRecord(scope, claimOf({ fingerprint: "fp-own" })));
      const others = lookAlikesOf(scope);
      for (const [i, other] of others.entries()) await insertRow(db, runningRecord(other, claimOf({ fingerprint: `fp-${i}` })));

      expect((await Promise.all(others.map((o) => keys.find(o)))).map((r) => r?.fingerprint)).toStrictEqual(["fp-0", "fp-1", "fp-2"]);
    });

    it("returns null for a key never claimed, even beside look-alikes", async () => {
      const scope = freshScope();
      await insertLookAlikes(scope, (s) => runningRecord(s, claimOf()));

      expect(await keys.find(scope)).toBeNull();
    });
  });

  describe("answer", () => {
    it("stores the answer of the request holding the lease, and changes nothing else", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);

      expect(await keys.answer(scope, claim.leaseUntil, ANSWER)).toBe(true);

      expect(await storedRow(db, scope)).toStrictEqual(answeredRecord(scope, claim));
      expect(await keys.find(scope)).toStrictEqual(answeredRecord(scope, claim));
    });

    it("answers false, and stores nothing, for a request whose lease is not the stored one", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);

      expect(await keys.answer(scope, at(30_001), ANSWER)).toBe(false);
      expect(await keys.answer(scope, at(29_999), ANSWER)).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, claim));
    });

    it("answers false, and keeps the first answer, for a key answered already", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);
      await keys.answer(scope, claim.leaseUntil, ANSWER);

      expect(await keys.answer(scope, claim.leaseUntil, { status: 500, headers: {}, body: "second" })).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(answeredRecord(scope, claim));
    });

    it("answers false for a key never claimed", async () => {
      expect(await keys.answer(freshScope(), at(30_000), ANSWER)).toBe(false);
    });

    it("answers only the scope's row, never a look-alike running under the same lease", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);
      const others = await insertLookAlikes(scope, (s) => runningRecord(s, claim));

      await keys.answer(scope, claim.leaseUntil, ANSWER);

      expect(await storedRows(others)).toStrictEqual(others);
    });

    it("stores empty headers and an empty body as they are", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);
      const empty = { status: 204, headers: {}, body: "" };

      expect(await keys.answer(scope, claim.leaseUntil, empty)).toBe(true);

      expect(await storedRow(db, scope)).toStrictEqual(answeredRecord(scope, claim, empty));
    });
  });

  describe("takeOver", () => {
    const next = claimOf({ fingerprint: "fp-next", leaseUntil: at(90_000), createdAt: NOW, expiresAt: at(86_460_000) });

    it("takes over an expired answered key: running again under the new claim, its answer cleared", async () => {
      const scope = freshScope();
      await insertRow(db, answeredRecord(scope, claimOf({ expiresAt: at(59_999) })));

      expect(await keys.takeOver(scope, next, NOW)).toBe(true);

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, next));
    });

    it("takes over a key that expires at this very instant", async () => {
      const scope = freshScope();
      await insertRow(db, answeredRecord(scope, claimOf({ expiresAt: NOW })));

      expect(await keys.takeOver(scope, next, NOW)).toBe(true);

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, next));
    });

    it("takes over a running key whose lease ended, or ends at this very instant", async () => {
      const [ended, endsNow] = [freshScope(), freshScope()];
      await insertRow(db, runningRecord(ended, claimOf({ leaseUntil: at(59_999) })));
      await insertRow(db, runningRecord(endsNow, claimOf({ leaseUntil: NOW })));

      expect(await keys.takeOver(ended, next, NOW)).toBe(true);
      expect(await keys.takeOver(endsNow, next, NOW)).toBe(true);

      expect(await storedRow(db, ended)).toStrictEqual(runningRecord(ended, next));
      expect(await storedRow(db, endsNow)).toStrictEqual(runningRecord(endsNow, next));
    });

    it("refuses a running key whose lease still holds, and leaves it as it is", async () => {
      const scope = freshScope();
      const held = await insertRow(db, runningRecord(scope, claimOf({ leaseUntil: at(60_001) })));

      expect(await keys.takeOver(scope, next, NOW)).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(held);
    });

    it("refuses an answered key that has not expired, however old its lease", async () => {
      const scope = freshScope();
      const answered = await insertRow(db, answeredRecord(scope, claimOf({ leaseUntil: at(1), expiresAt: at(60_001) })));

      expect(await keys.takeOver(scope, next, NOW)).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(answered);
    });

    it("refuses a key never claimed, and creates none", async () => {
      const scope = freshScope();

      expect(await keys.takeOver(scope, next, NOW)).toBe(false);

      expect(await storedRow(db, scope)).toBeNull();
    });

    it("takes over only the scope's row, never an expired look-alike", async () => {
      const scope = freshScope();
      await insertRow(db, answeredRecord(scope, claimOf({ expiresAt: at(1) })));
      const others = await insertLookAlikes(scope, (s) => answeredRecord(s, claimOf({ leaseUntil: at(1), expiresAt: at(1) })));

      expect(await keys.takeOver(scope, next, NOW)).toBe(true);

      expect(await storedRows(others)).toStrictEqual(others);
    });

    it("leaves the scope's row alone when only a look-alike could be taken over", async () => {
      const scope = freshScope();
      const held = await insertRow(db, runningRecord(scope, claimOf({ leaseUntil: at(120_000) })));
      const others = await insertLookAlikes(scope, (s) => runningRecord(s, claimOf({ leaseUntil: at(1) })));

      expect(await keys.takeOver(scope, next, NOW)).toBe(false);

      expect(await storedRow(db, scope)).toStrictEqual(held);
      expect(await storedRows(others)).toStrictEqual(others);
    });

    it("lets the old holder neither answer nor release once taken over", async () => {
      const scope = freshScope();
      const old = claimOf({ leaseUntil: at(1) });
      await keys.claim(scope, old);
      await keys.takeOver(scope, next, NOW);

      expect(await keys.answer(scope, old.leaseUntil, ANSWER)).toBe(false);
      await keys.release(scope, old.leaseUntil);

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, next));
      expect(await keys.answer(scope, next.leaseUntil, ANSWER)).toBe(true);
      expect(await storedRow(db, scope)).toStrictEqual(answeredRecord(scope, next));
    });
  });

  describe("release", () => {
    it("deletes the running key of the request holding the lease, so that a claim wins again", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);

      await keys.release(scope, claim.leaseUntil);

      expect(await storedRow(db, scope)).toBeNull();
      expect(await keys.claim(scope, claimOf({ fingerprint: "fp-retry" }))).toBe(true);
    });

    it("keeps a key held under another lease", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);

      await keys.release(scope, at(30_001));

      expect(await storedRow(db, scope)).toStrictEqual(runningRecord(scope, claim));
    });

    it("keeps an answered key, even under the lease that answered it", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);
      await keys.answer(scope, claim.leaseUntil, ANSWER);

      await keys.release(scope, claim.leaseUntil);

      expect(await storedRow(db, scope)).toStrictEqual(answeredRecord(scope, claim));
    });

    it("deletes only the scope's row, never a look-alike running under the same lease", async () => {
      const scope = freshScope();
      const claim = claimOf();
      await keys.claim(scope, claim);
      const others = await insertLookAlikes(scope, (s) => runningRecord(s, claim));

      await keys.release(scope, claim.leaseUntil);

      expect(await storedRow(db, scope)).toBeNull();
      expect(await storedRows(others)).toStrictEqual(others);
    });
  });

  describe("deleteExpired", () => {
    it("deletes every key expired by now (this very instant included), whatever its state, and answers how many", async () => {
      const [answeredLong, runningJust, endsNow, live, liveRunning] = [freshScope(), freshScope(), freshScope(), freshScope(), freshScope()];
      await insertRow(db, answeredRecord(answeredLong, claimOf({ expiresAt: at(1) })));
      await insertRow(db, runningRecord(runningJust, claimOf({ expiresAt: at(59_999) })));
      await insertRow(db, answeredRecord(endsNow, claimOf({ expiresAt: NOW })));
      const kept = [
        await insertRow(db, answeredRecord(live, claimOf({ expiresAt: at(60_001) }))),
        // A lease long past does not expire a key.
        await insertRow(db, runningRecord(liveRunning, claimOf({ leaseUntil: at(1), expiresAt: at(60_001) }))),
      ];

      expect(await keys.deleteExpired(NOW, 100)).toBe(3);

      expect(await Promise.all([answeredLong, runningJust, endsNow].map((s) => storedRow(db, s)))).toStrictEqual([null, null, null]);
      expect(await storedRows(kept)).toStrictEqual(kept);
      expect(await db.select().from(idempotencyKeys)).toHaveLength(2);
    });

    it("deletes at most `limit` keys a call, and the rest on the next calls", async () => {
      for (let i = 0; i < 5; i++) await insertRow(db, answeredRecord(freshScope(), claimOf({ expiresAt: at(i) })));
      const live = await insertRow(db, answeredRecord(freshScope(), claimOf({ expiresAt: at(60_001) })));

      expect(await keys.deleteExpired(NOW, 2)).toBe(2);
      expect(await db.select().from(idempotencyKeys)).toHaveLength(4);
      expect(await keys.deleteExpired(NOW, 2)).toBe(2);
      expect(await keys.deleteExpired(NOW, 2)).toBe(1);
      expect(await keys.deleteExpired(NOW, 2)).toBe(0);

      expect(await db.select().from(idempotencyKeys)).toStrictEqual([live]);
    });

    it("deletes only the expired one of keys sharing its token, workspace or key name", async () => {
      const scope = freshScope();
      await insertRow(db, answeredRecord(scope, claimOf({ expiresAt: at(1) })));
      const others = await insertLookAlikes(scope, (s) => answeredRecord(s, claimOf({ expiresAt: at(60_001) })));

      expect(await keys.deleteExpired(NOW, 10)).toBe(1);

      expect(await storedRow(db, scope)).toBeNull();
      expect(await storedRows(others)).toStrictEqual(others);
    });

    it("answers 0 when nothing has expired", async () => {
      const live = await insertRow(db, runningRecord(freshScope(), claimOf({ expiresAt: at(60_001) })));

      expect(await keys.deleteExpired(NOW, 10)).toBe(0);

      expect(await db.select().from(idempotencyKeys)).toStrictEqual([live]);
    });
  });
});
