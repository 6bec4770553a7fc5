import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { backends, createTestDatabaseBefore, postgresAdminUrl, rowsOf } from "@modbox/testkit/databases";
import { insertRawImage, insertRawRegistry } from "@modbox/testkit/fixtures";
import { uuidv7 } from "@modbox/testkit/ids";
import { migrateDatabase } from "./migrate.js";

const MIGRATION = "0005_nfc_names";

/** A fresh database migrated up to, not including, MIGRATION: names as an older server stored them. */
function databaseBefore(backend: (typeof backends)[number], options: { encoding?: "SQL_ASCII" } = {}) {
  return createTestDatabaseBefore(backend, MIGRATION, options);
}

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

describe.each(backends)(`migration ${MIGRATION} on %s`, (backend) => {
  it("normalises stored names to NFC, never breaking the unique index on live registry names", { timeout: 60_000 }, async () => {
    const before = await databaseBefore(backend);
    dispose = before.dispose;
    const { db } = before.handle;
    const W = "nfc-w";
    // Ids are UUIDv7 from one clock: the order of these calls is the order of age.
    const registry = (name: string, overrides: { workspaceId?: string; deletedAt?: Date } = {}) =>
      insertRawRegistry(db, overrides.workspaceId ?? W, { id: uuidv7(), name, ...(overrides.deletedAt && { deletedAt: overrides.deletedAt, passwordCiphertext: null }) });

    const alone = await registry("Cafe\u0301");
    const sameNameElsewhere = await registry("Cafe\u0301", { workspaceId: "nfc-other" });
    // Two spellings live at once, one of them NFC: that one keeps the name, the other stays as stored.
    const composed = await registry("Cr\u00e8me");
    const decomposedTwin = await registry("Cre\u0300me");
    // Two spellings, neither NFC (U+212B ANGSTROM SIGN, A + U+030A): the older one is normalised.
    const olderTwin = await registry("\u212Bngstro\u0308m");
    const newerTwin = await registry("A\u030Angstro\u0308m");
    // A deleted registry is in no index and answers nothing: left as it is.
    const deleted = await registry("Cafe\u0301", { deletedAt: new Date() });
    const ascii = await registry("Plain ASCII");
    const image = await insertRawImage(db, W, { name: "Imag\u0065\u0301" });
    const asciiImage = await insertRawImage(db, W, { name: "Plain image" });

    await migrateDatabase(before.handle);
    // Applied once: a second start finds nothing to do.
    await migrateDatabase(before.handle);

    const rows = rowsOf(await db.execute(sql`select id, name, version from registries`));
    const stored = (id: string) => rows.find((r) => r.id === id)!;
    expect(stored(alone.id)).toMatchObject({ name: "Caf\u00e9", version: 2 });
    expect(stored(sameNameElsewhere.id)).toMatchObject({ name: "Caf\u00e9", version: 2 });
    expect(stored(composed.id)).toMatchObject({ name: "Cr\u00e8me", version: 1 });
    expect(stored(decomposedTwin.id)).toMatchObject({ name: "Cre\u0300me", version: 1 });
    expect(stored(olderTwin.id)).toMatchObject({ name: "\u00C5ngstr\u00F6m", version: 2 });
    expect(stored(newerTwin.id)).toMatchObject({ name: "A\u030Angstro\u0308m", version: 1 });
    expect(stored(deleted.id)).toMatchObject({ name: "Cafe\u0301", version: 1 });
    expect(stored(ascii.id)).toMatchObject({ name: "Plain ASCII", version: 1 });

    const images = rowsOf(await db.execute(sql`select id, name, version from sandbox_images`));
    expect(images.find((r) => r.id === image.id)).toMatchObject({ name: "Imag\u00e9", version: 2 });
    expect(images.find((r) => r.id === asciiImage.id)).toMatchObject({ name: "Plain image", version: 1 });

    // From now on the unique index sees the normalised name of the old row.
    await expect(insertRawRegistry(db, W, { name: "Caf\u00e9" })).rejects.toThrow();
  });
});

describe.skipIf(!postgresAdminUrl)(`migration ${MIGRATION} on a PostgreSQL database that is not UTF8`, () => {
  it("leaves the names as stored, and the start goes on", { timeout: 60_000 }, async () => {
    const before = await databaseBefore("postgres", { encoding: "SQL_ASCII" });
    dispose = before.dispose;
    const { db } = before.handle;
    expect(rowsOf(await db.execute(sql`show server_encoding`))).toEqual([{ server_encoding: "SQL_ASCII" }]);
    const registry = await insertRawRegistry(db, "nfc-ascii", { name: "Cafe\u0301" });
    const image = await insertRawImage(db, "nfc-ascii", { name: "Imag\u0065\u0301" });

    await migrateDatabase(before.handle);

    expect(rowsOf(await db.execute(sql`select name, version from registries where id = ${registry.id}`))).toEqual([{ name: "Cafe\u0301", version: 1 }]);
    expect(rowsOf(await db.execute(sql`select name, version from sandbox_images where id = ${image.id}`))).toEqual([{ name: "Imag\u0065\u0301", version: 1 }]);
  });
});
