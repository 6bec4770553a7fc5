import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { backends, createTestDatabaseBefore, rowsOf } from "@modbox/testkit/databases";
import { insertRawRegistry } from "@modbox/testkit/fixtures";
import type { ProviderName } from "../registry-protocol/providers.js";
import { migrateDatabase } from "./migrate.js";

const MIGRATION = "0011_rederive_cloud_providers";

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

describe.each(backends)(`migration ${MIGRATION} on %s`, (backend) => {
  it("re-derives the provider of cloud hosts the old patterns called self_hosted, and leaves the rest", { timeout: 60_000 }, async () => {
    const before = await createTestDatabaseBefore(backend, MIGRATION);
    dispose = before.dispose;
    const { db } = before.handle;
    const W = "providers-w";
    // Rows as the previous server derived them.
    const registry = (server: string, provider: ProviderName) => insertRawRegistry(db, W, { server, provider });
    const dualStack = await registry("123456789012.dkr-ecr.eu-west-1.on.aws", "self_hosted");
    const acrChina = await registry("contoso.azurecr.cn/team", "self_hosted");
    const notEcr = await registry("registry.dkr.ecr.example.com", "self_hosted");
    const plain = await registry("registry.example.com:5000", "self_hosted");
    const ecr = await registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ecr");

    await migrateDatabase(before.handle);
    await migrateDatabase(before.handle);

    const rows = rowsOf(await db.execute(sql`select id, provider, version from registries`));
    const stored = (id: string) => rows.find((r) => r.id === id)!;
    expect(stored(dualStack.id)).toMatchObject({ provider: "ecr", version: 2 });
    expect(stored(acrChina.id)).toMatchObject({ provider: "acr", version: 2 });
    // A candidate by its name that is not ECR: derived again, the same value.
    expect(stored(notEcr.id)).toMatchObject({ provider: "self_hosted", version: 2 });
    expect(stored(plain.id)).toMatchObject({ provider: "self_hosted", version: 1 });
    expect(stored(ecr.id)).toMatchObject({ provider: "ecr", version: 1 });
  });
});
