import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { backends, createTestDatabaseBefore, rowsOf } from "@modbox/testkit/databases";
import { uuidv7 } from "@modbox/testkit/ids";
import { classifyDatabaseError } from "./errors.js";
import { migrateDatabase } from "./migrate.js";

const MIGRATION = "0008_tokens_over_the_api";

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

describe.each(backends)(`migration ${MIGRATION} on %s`, (backend) => {
  it("keeps every stored token's scope, adds created_by empty, and allows admin tokens for every workspace only", { timeout: 60_000 }, async () => {
    const before = await createTestDatabaseBefore(backend, MIGRATION);
    dispose = before.dispose;
    const { db } = before.handle;
    const hash = () => randomBytes(32).toString("hex");
    // Rows as the previous server stored them: the first token (every workspace) and two others.
    const first = uuidv7();
    const ci = uuidv7();
    const provisioner = uuidv7();
    await db.execute(sql`insert into api_tokens (id, name, token_hash, scope, workspace_ids, created_at) values
      (${first}, 'first token', ${hash()}, 'workspace', null, now()),
      (${ci}, 'ci', ${hash()}, 'workspace', array['acme'], now()),
      (${provisioner}, 'provisioner', ${hash()}, 'provisioner', array['acme'], now())`);

    await migrateDatabase(before.handle);

    const rows = rowsOf(await db.execute(sql`select id, scope, workspace_ids, created_by from api_tokens order by id`));
    expect(rows).toEqual([
      { id: first, scope: "workspace", workspace_ids: null, created_by: null },
      { id: ci, scope: "workspace", workspace_ids: ["acme"], created_by: null },
      { id: provisioner, scope: "provisioner", workspace_ids: ["acme"], created_by: null },
    ]);
    await db.execute(sql`insert into api_tokens (id, name, token_hash, scope, workspace_ids, created_at, created_by)
      values (${uuidv7()}, 'ops', ${hash()}, 'admin', null, now(), 'cli')`);
    const refused = await db
      .execute(sql`insert into api_tokens (id, name, token_hash, scope, workspace_ids, created_at)
        values (${uuidv7()}, 'half admin', ${hash()}, 'admin', array['acme'], now())`)
      .catch((e: unknown) => e);
    expect(classifyDatabaseError(refused)).toEqual({ kind: "other", sqlstate: "23514" });
  });
});
