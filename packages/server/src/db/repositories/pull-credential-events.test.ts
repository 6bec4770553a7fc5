import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../client.js";
import { pullCredentialEvents, registries } from "../schema.js";
import { backends, createTestDatabase, type TestDatabase } from "@modbox/testkit/databases";
import { insertRawRegistry, FIXTURE_TIME as T0 } from "@modbox/testkit/fixtures";
import { freshWorkspaceId, uuidv7 } from "@modbox/testkit/ids";
import { createPullCredentialEventRepository, type PullCredentialEvent } from "./pull-credential-events.js";

const T1 = new Date("2025-01-03T03:04:05.999Z");
const T2 = new Date("2025-01-04T00:00:00.001Z");

/** What the touch may change, and what it must not. */
async function registryState(db: Db, id: string) {
  const [row] = await db
    .select({
      lastUsedAt: registries.lastUsedAt,
      updatedAt: registries.updatedAt,
      version: registries.version,
      deletedAt: registries.deletedAt,
    })
    .from(registries)
    .where(eq(registries.id, id));
  return row;
}

async function eventsOf(db: Db, workspaceId: string) {
  return db.select().from(pullCredentialEvents).where(eq(pullCredentialEvents.workspaceId, workspaceId)).orderBy(pullCredentialEvents.id);
}

function event(workspaceId: string, registryId: string | null, createdAt: Date): Omit<PullCredentialEvent, "outcome"> {
  return { id: uuidv7(), workspaceId, imageId: uuidv7(), registryId, tokenId: "token-1", createdAt };
}

describe.each(backends)("pull credential event repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let repo: ReturnType<typeof createPullCredentialEventRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    repo = createPullCredentialEventRepository(db);
  });
  afterAll(() => testDb?.dispose());

  it("recordIssued writes exactly one event and marks the registry used, nothing else", async () => {
    const ws = freshWorkspaceId();
    const registryId = (await insertRawRegistry(db, ws)).id;
    const issued = event(ws, registryId, T1);

    await repo.recordIssued(issued);

    expect(await eventsOf(db, ws)).toStrictEqual([{ ...issued, outcome: "issued" }]);
    expect(await registryState(db, registryId)).toStrictEqual({ lastUsedAt: T1, updatedAt: T0, version: 1, deletedAt: null });
  });

  it("moves last_used_at forward, never back", async () => {
    const ws = freshWorkspaceId();
    const registryId = (await insertRawRegistry(db, ws)).id;

    await repo.recordIssued(event(ws, registryId, T1));
    await repo.recordIssued(event(ws, registryId, T0));
    expect((await registryState(db, registryId))?.lastUsedAt).toStrictEqual(T1);
    await repo.recordIssued(event(ws, registryId, T2));
    expect((await registryState(db, registryId))?.lastUsedAt).toStrictEqual(T2);
    // Every call is audited, the one that did not move the timestamp too.
    expect((await eventsOf(db, ws)).map((e) => e.createdAt)).toStrictEqual([T1, T0, T2]);
  });

  it("does not touch a deleted registry, but still records the event", async () => {
    const ws = freshWorkspaceId();
    const registryId = (await insertRawRegistry(db, ws, { lastUsedAt: T0, deletedAt: T1, passwordCiphertext: null, passwordKeyId: null })).id;
    const issued = event(ws, registryId, T2);

    await repo.recordIssued(issued);

    expect(await registryState(db, registryId)).toStrictEqual({ lastUsedAt: T0, updatedAt: T0, version: 1, deletedAt: T1 });
    expect(await eventsOf(db, ws)).toStrictEqual([{ ...issued, outcome: "issued" }]);
  });

  it("does not touch another workspace's registry", async () => {
    const owner = freshWorkspaceId();
    const registryId = (await insertRawRegistry(db, owner)).id;
    const other = freshWorkspaceId();

    await repo.recordIssued(event(other, registryId, T1));

    expect((await registryState(db, registryId))?.lastUsedAt).toBeNull();
    expect(await eventsOf(db, owner)).toEqual([]);
    expect(await eventsOf(db, other)).toHaveLength(1);
  });

  it("without a registry writes the event with a null registry", async () => {
    const ws = freshWorkspaceId();
    const issued = event(ws, null, T1);

    await repo.recordIssued(issued);

    expect(await eventsOf(db, ws)).toStrictEqual([{ ...issued, registryId: null, outcome: "issued" }]);
  });

  it("record (refusals) writes the event with its registry and outcome, never marking the registry used", async () => {
    const ws = freshWorkspaceId();
    const registryId = (await insertRawRegistry(db, ws)).id;
    const refused = { ...event(ws, registryId, T1), outcome: "registry_disabled" };
    const missing = { ...event(ws, null, T2), outcome: "not_found" };

    await repo.record(refused);
    await repo.record(missing);

    expect(await eventsOf(db, ws)).toStrictEqual([refused, missing]);
    expect((await registryState(db, registryId))?.lastUsedAt).toBeNull();
  });
});
