import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { backends, createTestDatabaseBefore, rowsOf } from "@modbox/testkit/databases";
import { uuidv7 } from "@modbox/testkit/ids";
import { classifyDatabaseError } from "./errors.js";
import { migrateDatabase } from "./migrate.js";

const MIGRATION = "0009_cloud_auth_types";

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

describe.each(backends)(`migration ${MIGRATION} on %s`, (backend) => {
  it("makes every stored registry basic, allows only the contract's auth types, and audits exchange_failed", { timeout: 60_000 }, async () => {
    const before = await createTestDatabaseBefore(backend, MIGRATION);
    dispose = before.dispose;
    const { db } = before.handle;
    const id = uuidv7();
    const ws = `ws-${randomBytes(4).toString("hex")}`;
    // A registry as the previous server stored it.
    await db.execute(sql`insert into registries (id, workspace_id, name, server, provider, username, password_ciphertext, password_key_id, created_at, updated_at)
      values (${id}, ${ws}, 'old', 'ghcr.io', 'ghcr', 'octocat', 'v1:k:x', 'k', now(), now())`);

    await migrateDatabase(before.handle);

    expect(rowsOf(await db.execute(sql`select auth_type from registries where id = ${id}`))).toEqual([{ auth_type: "basic" }]);
    const refused = await db.execute(sql`update registries set auth_type = 'gcp' where id = ${id}`).catch((e: unknown) => e);
    expect(classifyDatabaseError(refused)).toEqual({ kind: "other", sqlstate: "23514" });
    await db.execute(sql`insert into pull_credential_events (id, workspace_id, image_id, registry_id, token_id, outcome, created_at)
      values (${uuidv7()}, ${ws}, ${uuidv7()}, ${id}, 't', 'exchange_failed', now())`);
  });
});

describe.each(backends)("migration 0010_azure_auth_type on %s", (backend) => {
  it("keeps the stored types and allows azure_service_principal, still nothing else", { timeout: 60_000 }, async () => {
    const before = await createTestDatabaseBefore(backend, "0010_azure_auth_type");
    dispose = before.dispose;
    const { db } = before.handle;
    const id = uuidv7();
    const ws = `ws-${randomBytes(4).toString("hex")}`;
    await db.execute(sql`insert into registries (id, workspace_id, name, server, provider, username, password_ciphertext, password_key_id, auth_type, created_at, updated_at)
      values (${id}, ${ws}, 'gar', 'europe-docker.pkg.dev', 'google', 'oauth2accesstoken', 'v1:k:x', 'k', 'gcp_service_account', now(), now())`);
    const early = await db.execute(sql`update registries set auth_type = 'azure_service_principal' where id = ${id}`).catch((e: unknown) => e);
    expect(classifyDatabaseError(early)).toEqual({ kind: "other", sqlstate: "23514" });

    await migrateDatabase(before.handle);

    expect(rowsOf(await db.execute(sql`select auth_type from registries where id = ${id}`))).toEqual([{ auth_type: "gcp_service_account" }]);
    await db.execute(sql`update registries set auth_type = 'azure_service_principal' where id = ${id}`);
    const refused = await db.execute(sql`update registries set auth_type = 'azure' where id = ${id}`).catch((e: unknown) => e);
    expect(classifyDatabaseError(refused)).toEqual({ kind: "other", sqlstate: "23514" });
  });
});
