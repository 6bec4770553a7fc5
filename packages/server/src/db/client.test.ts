import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "./client.js";
import { classifyDatabaseError } from "./errors.js";
import { migrateDatabase } from "./migrate.js";
import { createRegistryRepository } from "./repositories/registries.js";
import { postgresAdminUrl, requirePostgresAdminUrl } from "@modbox/testkit/databases";
import { uuidv7 } from "@modbox/testkit/ids";
import { newRegistry } from "@modbox/testkit/fixtures";


describe("openDatabase with PostgreSQL", () => {
  it("fails fast as unavailable when nothing listens", async () => {
    // Port 1 on loopback: refused at once, no network needed.
    const handle = await openDatabase({ kind: "postgres", url: "postgres://nobody@127.0.0.1:1/none" });
    try {
      const started = Date.now();
      const err = await handle.ping().catch((e: unknown) => e);

      expect(classifyDatabaseError(err)).toEqual({ kind: "unavailable" });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await handle.close();
    }
  });

  it("gives up after connectTimeoutSeconds when the server never answers", async () => {
    // Accepts TCP connections and stays silent, like a hung or half-dead database.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const handle = await openDatabase({
      kind: "postgres",
      url: `postgres://nobody@127.0.0.1:${port}/none`,
      connectTimeoutSeconds: 1,
    });
    try {
      const started = Date.now();
      const err = await handle.ping().catch((e: unknown) => e);

      expect(classifyDatabaseError(err)).toEqual({ kind: "unavailable" });
      // drizzle wraps the driver's error.
      expect((err as { cause?: { code?: unknown } }).cause?.code).toBe("CONNECT_TIMEOUT");
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await handle.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it.skipIf(!postgresAdminUrl)("pings a running server", async () => {
    const handle = await openDatabase({ kind: "postgres", url: requirePostgresAdminUrl(), maxConnections: 2 });
    try {
      await expect(handle.ping()).resolves.toBeUndefined();
      expect(handle.kind).toBe("postgres");
      expect(handle.dumpDataDir).toBeUndefined();
    } finally {
      await handle.close();
    }
  });
});

describe("openDatabase with PGlite", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("creates a missing data directory, and a dump loads into a new database", async () => {
    const root = await mkdtemp(join(tmpdir(), "modbox-pglite-"));
    dirs.push(root);
    const dataDir = join(root, "nested", "data");
    const id = uuidv7();

    const source = await openDatabase({ kind: "pglite", dataDir });
    let dump: Blob;
    try {
      expect((await stat(dataDir)).isDirectory()).toBe(true);
      await migrateDatabase(source);
      await createRegistryRepository(source.db).insert(newRegistry("ws", { id, name: "prod" }));
      dump = await source.dumpDataDir!();
    } finally {
      await source.close();
    }

    const copy = await openDatabase({ kind: "pglite", loadDataDir: dump });
    try {
      await copy.ping();
      expect(await createRegistryRepository(copy.db).findById("ws", id)).toMatchObject({ name: "prod" });
    } finally {
      await copy.close();
    }
  });
});
