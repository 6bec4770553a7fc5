import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { postgresAdminUrl, requirePostgresAdminUrl, rowsOf } from "@modbox/testkit/databases";
import { openDatabase, type DatabaseHandle } from "./client.js";
import { createPoolUsage, type PoolUsage } from "./pool-usage.js";

describe("createPoolUsage", () => {
  it("counts units in flight: in use up to the pool size, the rest waiting", () => {
    const usage = createPoolUsage(2);
    const done = [usage.start(), usage.start(), usage.start()];
    expect({ inFlight: usage.inFlight, inUse: usage.inUse(), waiting: usage.waiting(), waited: usage.waitedTotal }).toEqual({
      inFlight: 3,
      inUse: 2,
      waiting: 1,
      waited: 1,
    });
    done[0]!();
    done[0]!(); // settling twice counts once
    expect({ inFlight: usage.inFlight, inUse: usage.inUse(), waiting: usage.waiting() }).toEqual({ inFlight: 2, inUse: 2, waiting: 0 });
    done[1]!();
    done[2]!();
    expect({ inFlight: usage.inFlight, inUse: usage.inUse(), waiting: usage.waiting(), waited: usage.waitedTotal }).toEqual({
      inFlight: 0,
      inUse: 0,
      waiting: 0,
      waited: 1,
    });
  });
});

/**
 * Holds `size` transactions open (each holds a connection), then issues two statements: they
 * wait. Every count returns to 0 once all settle, failures included.
 */
async function holdThePool(handle: DatabaseHandle, usage: PoolUsage): Promise<void> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const holders = Array.from({ length: usage.size }, (_, i) =>
    handle.db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      await gate;
      return i;
    }),
  );
  await expect.poll(() => usage.inFlight).toBe(usage.size);
  expect(usage.waiting()).toBe(0);

  // drizzle's queries run when awaited: allSettled starts them now (and holds the failure).
  const waiters = Promise.allSettled([handle.db.execute(sql`select 1 as one`), handle.db.execute(sql`select 1/0`)]);
  await expect.poll(() => usage.inFlight).toBe(usage.size + 2);
  expect(usage.inUse()).toBe(usage.size);
  expect(usage.waiting()).toBe(2);
  expect(usage.waitedTotal).toBe(2);

  release();
  expect(await Promise.all(holders)).toEqual(Array.from({ length: usage.size }, (_, i) => i));
  const [ok, failed] = await waiters;
  expect(ok!.status).toBe("fulfilled");
  expect(failed!.status).toBe("rejected");
  expect(usage.inFlight).toBe(0);
  expect(usage.inUse()).toBe(0);
}

describe("the database handle counts its pool's work when given a PoolUsage", () => {
  it("PGlite: one session; a transaction holds it, statements wait behind it", async () => {
    const usage = createPoolUsage(1);
    const handle = await openDatabase({ kind: "pglite", usage });
    try {
      await holdThePool(handle, usage);
      // The rest of PGlite is the instance's own (private fields): ping still works through the wrapper.
      await expect(handle.ping()).resolves.toBeUndefined();
    } finally {
      await handle.close();
    }
  });

  it.skipIf(!postgresAdminUrl)("PostgreSQL: transactions hold connections, statements past the pool wait", async () => {
    const usage = createPoolUsage(2);
    const handle = await openDatabase({ kind: "postgres", url: requirePostgresAdminUrl(), maxConnections: 2, usage });
    try {
      await holdThePool(handle, usage);
      // drizzle's own parsers still apply through the wrapper (it sets them on the client's
      // options): it leaves timestamps as text, where postgres.js alone would make a Date.
      const [row] = rowsOf(await handle.db.execute(sql`select 1::int as n, '2026-01-01T00:00:00Z'::timestamptz as at`));
      expect(row!.n).toBe(1);
      expect(typeof row!.at).toBe("string");
    } finally {
      await handle.close();
    }
  });
});
