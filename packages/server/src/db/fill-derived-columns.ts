/**
 * Fills the derived columns (derived-columns.ts) of rows that do not have them yet: rows written
 * before the columns existed (migration 0003 adds them empty) and rows written around the app (an
 * SQL seed, a test fixture). `migrateDatabase` runs it after the SQL migrations, under its lock.
 *
 * The derivation is the app's own code (server normalisation, the Docker reference grammar), not
 * something to redo in SQL, so rows are read, derived here and written back, in batches of
 * `batchSize` keyed by id. Only rows still NULL are written: a concurrent write by the app, which
 * always writes the column with its source, is never overwritten. `version` and `updated_at` stay:
 * nothing the user set changed, and responses already showed these values (derived on read).
 */
import { asc, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.js";
import { providerOf, referenceOf } from "./derived-columns.js";
import { registries, sandboxImages } from "./schema.js";

export interface FilledRows {
  registries: number;
  sandboxImages: number;
}

/** Rows per read and write: a bounded statement whatever the table size. */
const DEFAULT_BATCH_SIZE = 1_000;

/** `(id, value), …` as a VALUES list. */
function valuesList(rows: { id: string; value: string }[]): SQL {
  return sql.join(
    rows.map((r) => sql`(${r.id}::uuid, ${r.value})`),
    sql`, `,
  );
}

export async function fillDerivedColumns(db: Db, batchSize = DEFAULT_BATCH_SIZE): Promise<FilledRows> {
  const filled: FilledRows = { registries: 0, sandboxImages: 0 };

  // Tombstones too: a deleted registry keeps its server, and its provider with it.
  for (;;) {
    const rows = await db
      .select({ id: registries.id, server: registries.server })
      .from(registries)
      .where(isNull(registries.provider))
      .orderBy(asc(registries.id))
      .limit(batchSize);
    if (rows.length === 0) break;
    const values = valuesList(rows.map((r) => ({ id: r.id, value: providerOf(r.server) })));
    await db.execute(sql`
      update ${registries} as r set provider = v.value
      from (values ${values}) as v(id, value)
      where r.id = v.id and r.provider is null`);
    filled.registries += rows.length;
  }

  for (;;) {
    const rows = await db
      .select({ id: sandboxImages.id, image: sandboxImages.image, tag: sandboxImages.tag })
      .from(sandboxImages)
      .where(isNull(sandboxImages.reference))
      .orderBy(asc(sandboxImages.id))
      .limit(batchSize);
    if (rows.length === 0) break;
    const values = valuesList(rows.map((r) => ({ id: r.id, value: referenceOf(r.image, r.tag) })));
    await db.execute(sql`
      update ${sandboxImages} as i set reference = v.value
      from (values ${values}) as v(id, value)
      where i.id = v.id and i.reference is null`);
    filled.sandboxImages += rows.length;
  }
  return filled;
}
