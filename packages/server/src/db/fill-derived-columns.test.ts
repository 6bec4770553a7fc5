/**
 * The derived columns of rows that predate them: a database migrated to 0002 only, rows written
 * there with SQL (no provider, no reference), then `migrateDatabase`: every row holds what the
 * app's own functions derive, tombstones included.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type SQL } from "drizzle-orm";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, requirePostgresAdminUrl, type Backend } from "@modbox/testkit/databases";
import { createPostgresTestDatabase } from "@modbox/testkit/postgres";
import { openDatabase, openDedicatedSession, type DatabaseHandle } from "./client.js";
import { providerOf, referenceOf } from "./derived-columns.js";
import { migrateDatabase, MIGRATIONS_FOLDER } from "./migrate.js";

/** Rows of a raw query: `execute` answers an array on postgres.js and `{ rows }` on PGlite. */
async function query<T>(handle: DatabaseHandle, q: SQL): Promise<T[]> {
  const result = (await handle.db.execute(q)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[];
}

/** A copy of the migrations folder whose journal stops after `count` migrations. */
async function migrationsUpTo(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "modbox-migrations-"));
  await cp(MIGRATIONS_FOLDER, dir, { recursive: true });
  const journalPath = join(dir, "meta", "_journal.json");
  const journal = JSON.parse(await readFile(journalPath, "utf8"));
  journal.entries = journal.entries.slice(0, count);
  await writeFile(journalPath, JSON.stringify(journal));
  return dir;
}

async function openEmpty(backend: Backend): Promise<{ handle: DatabaseHandle; dispose(): Promise<void> }> {
  if (backend === "pglite") {
    const handle = await openDatabase({ kind: "pglite" });
    return { handle, dispose: () => handle.close() };
  }
  const fresh = await createPostgresTestDatabase(requirePostgresAdminUrl());
  const handle = await openDatabase({ kind: "postgres", url: fresh.url });
  return {
    handle,
    async dispose() {
      await handle.close();
      await fresh.drop();
    },
  };
}

// Servers and images as users typed them, one per provider and grammar case (a digest, a port,
// Docker Hub's implicit library/, and a pair the grammar refuses today).
const SERVERS = [
  "ghcr.io",
  "docker.io",
  "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
  "myregistry.azurecr.io",
  "europe-docker.pkg.dev",
  "gcr.io",
  "localhost:5000",
  "registry.example.com",
];
const IMAGES: [string, string][] = [
  ["ubuntu", "22.04"],
  ["ghcr.io/acme/app", "v1.2.3"],
  ["localhost:5000/team/app", "latest"],
  [`ghcr.io/acme/app@sha256:${"a".repeat(64)}`, "pinned"],
  ["Not A Valid Image", "x"],
];
// More rows than one batch of the fill (1,000), so batching is exercised.
const REGISTRY_ROWS = 2_100;
const IMAGE_ROWS = 1_100;

describe.each(backends)("migrating a 0002 database on %s fills the derived columns", (backend) => {
  let db: Awaited<ReturnType<typeof openEmpty>>;
  let folder: string;

  beforeAll(async () => {
    db = await openEmpty(backend);
    folder = await migrationsUpTo(3);
    const config = { migrationsFolder: folder };
    const session = await openDedicatedSession(db.handle);
    try {
      if (session.kind === "pglite") await migratePglite(session.db, config);
      else await migratePostgres(session.db, config);
    } finally {
      await session.release();
    }

    const servers = sql.raw(`array[${SERVERS.map((s) => `'${s}'`).join(", ")}]`);
    // Every fifth registry is a tombstone (deleted, credential wiped).
    await db.handle.db.execute(sql`
      insert into registries (id, workspace_id, name, server, username, password_ciphertext, password_key_id,
        created_at, updated_at, deleted_at)
      select gen_random_uuid(), 'ws-fill', 'registry-' || n, (${servers})[1 + n % ${SERVERS.length}], 'robot',
        case when n % 5 = 0 then null else 'v1:k1:x' end, case when n % 5 = 0 then null else 'k1' end,
        now(), now(), case when n % 5 = 0 then now() else null end
      from generate_series(1, ${REGISTRY_ROWS}) as n`);
    const images = sql.raw(`array[${IMAGES.map(([i]) => `'${i}'`).join(", ")}]`);
    const tags = sql.raw(`array[${IMAGES.map(([, t]) => `'${t}'`).join(", ")}]`);
    await db.handle.db.execute(sql`
      insert into sandbox_images (id, workspace_id, name, image, tag, memory_mb, created_at, updated_at)
      select gen_random_uuid(), 'ws-fill', 'image-' || n, (${images})[1 + n % ${IMAGES.length}],
        (${tags})[1 + n % ${IMAGES.length}], 1024, now(), now()
      from generate_series(1, ${IMAGE_ROWS}) as n`);

    await migrateDatabase(db.handle);
  });
  afterAll(async () => {
    await db?.dispose();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("gives every registry, tombstones included, the provider detectProvider gives its server", async () => {
    const rows = await query<{ server: string; provider: string | null; deleted: boolean; version: number }>(
      db.handle,
      sql`select server, provider, deleted_at is not null as deleted, version from registries`,
    );
    expect(rows).toHaveLength(REGISTRY_ROWS);
    expect(rows.filter((r) => r.deleted).length).toBeGreaterThan(0);
    for (const row of rows) expect(row.provider).toBe(providerOf(row.server));
    // Every provider of the list above is there, so the comparison covered them all.
    expect(new Set(rows.map((r) => r.provider))).toEqual(new Set(SERVERS.map(providerOf)));
    // Nothing the user set changed.
    expect(rows.every((r) => r.version === 1)).toBe(true);
  });

  it("gives every image the reference pullReference gives its image and tag", async () => {
    const rows = await query<{ image: string; tag: string; reference: string | null }>(
      db.handle,
      sql`select image, tag, reference from sandbox_images`,
    );
    expect(rows).toHaveLength(IMAGE_ROWS);
    for (const row of rows) expect(row.reference).toBe(referenceOf(row.image, row.tag));
    expect(new Set(rows.map((r) => r.reference))).toEqual(
      new Set([
        "docker.io/library/ubuntu:22.04",
        "ghcr.io/acme/app:v1.2.3",
        "localhost:5000/team/app:latest",
        `ghcr.io/acme/app@sha256:${"a".repeat(64)}`,
        "Not A Valid Image:x",
      ]),
    );
  });

  it("leaves filled rows alone the next time", async () => {
    await db.handle.db.execute(sql`update registries set provider = 'ghcr' where server = 'registry.example.com'`);
    await migrateDatabase(db.handle);
    const [row] = await query<{ n: number }>(
      db.handle,
      sql`select count(*)::int as n from registries where server = 'registry.example.com' and provider = 'ghcr'`,
    );
    expect(row!.n).toBeGreaterThan(0);
  });
});
