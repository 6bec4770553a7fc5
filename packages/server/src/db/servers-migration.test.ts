import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { backends, createTestDatabaseBefore, rowsOf } from "@modbox/testkit/databases";
import { insertRawImage, insertRawRegistry } from "@modbox/testkit/fixtures";
import { normaliseServer } from "../registry-protocol/hosts.js";
import { migrateDatabase } from "./migrate.js";

const MIGRATION = "0007_servers_as_written";

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

describe.each(backends)(`migration ${MIGRATION} on %s`, (backend) => {
  it("drops :443 from stored servers as the app now does, re-derives their provider, and adds an empty verification detail", { timeout: 60_000 }, async () => {
    const before = await createTestDatabaseBefore(backend, MIGRATION);
    dispose = before.dispose;
    const { db } = before.handle;
    const W = "servers-w";
    // Rows as the previous server stored them: the port as written, and a provider derived from
    // it (any server with a port was self-hosted; the rest are not rewritten).
    const registry = (server: string, overrides: { deletedAt?: Date } = {}) =>
      insertRawRegistry(db, W, {
        server,
        ...(server.includes(":") && { provider: "self_hosted" }),
        ...(overrides.deletedAt && { deletedAt: overrides.deletedAt, passwordCiphertext: null }),
      });
    const ghcr443 = await registry("ghcr.io:443");
    // The same server under another name: servers are not unique, so nothing can collide.
    const ghcr = await registry("ghcr.io");
    const hub443 = await registry("index.docker.io:443");
    const ecr443 = await registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com:443");
    const ipv6 = await registry("[::1]:443");
    const local = await registry("localhost:443");
    const singleLabel = await registry("myregistry:443");
    const port80 = await registry("registry.example.com:80");
    const port5000 = await registry("registry.example.com:5000");
    const deleted = await registry("ghcr.io:443", { deletedAt: new Date() });
    const linked = await insertRawImage(db, W, { image: "ghcr.io:443/acme/app", registryId: ghcr443.id });

    await migrateDatabase(before.handle);
    // Applied once: a second start finds nothing to do.
    await migrateDatabase(before.handle);

    const rows = rowsOf(await db.execute(sql`select id, server, provider, version, updated_at, verification_detail from registries`));
    const stored = (id: string) => rows.find((r) => r.id === id)!;
    expect(stored(ghcr443.id)).toMatchObject({ server: "ghcr.io", provider: "ghcr", version: 2, verification_detail: null });
    expect(stored(ghcr.id)).toMatchObject({ server: "ghcr.io", provider: "ghcr", version: 1 });
    expect(stored(hub443.id)).toMatchObject({ server: "docker.io", provider: "dockerhub", version: 2 });
    expect(stored(ecr443.id)).toMatchObject({ server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", provider: "ecr", version: 2 });
    expect(stored(ipv6.id)).toMatchObject({ server: "[::1]", provider: "self_hosted", version: 2 });
    expect(stored(local.id)).toMatchObject({ server: "localhost", provider: "self_hosted", version: 2 });
    // Kept: without its port a single label is a Docker Hub namespace; port 80 is https on 80.
    expect(stored(singleLabel.id)).toMatchObject({ server: "myregistry:443", version: 1 });
    expect(stored(port80.id)).toMatchObject({ server: "registry.example.com:80", version: 1 });
    expect(stored(port5000.id)).toMatchObject({ server: "registry.example.com:5000", version: 1 });
    // A tombstone's server is rewritten too (images still name it), its version kept.
    expect(stored(deleted.id)).toMatchObject({ server: "ghcr.io", provider: "ghcr", version: 1 });
    // Nobody updated them.
    for (const row of rows) expect(new Date(String(row.updated_at)).getTime()).toBe(ghcr443.updatedAt.getTime());

    // What the SQL wrote is what the app's own normalisation gives (so it compares equal to new writes).
    for (const row of rows) {
      const normalised = normaliseServer(String(row.server));
      expect(normalised.ok && normalised.server, String(row.server)).toBe(row.server);
    }
    // The linked image is untouched: its reference still says what a runtime pulls.
    const images = rowsOf(await db.execute(sql`select image, reference from sandbox_images where id = ${linked.id}`));
    expect(images).toEqual([{ image: "ghcr.io:443/acme/app", reference: "ghcr.io:443/acme/app:v1" }]);
  });
});
