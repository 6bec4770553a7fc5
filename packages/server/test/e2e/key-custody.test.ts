/**
 * Key custody and rotation with real processes, as an operator meets them: a lost key file, a key
 * with the right id and the wrong bytes, a wrong MODBOX_ENCRYPTION_KEYS on PostgreSQL, an instance
 * that cannot open what another one seals, and the whole rotation procedure (add a key, make it
 * active, `keys rotate` while the API serves, retire the old key, drop it from the configuration).
 */
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCipher, formatKeyringSpec, generateKey, parseKeyringSpec, type KeyringKey } from "@modbox/crypto";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { credentialContext } from "../../src/services/credential-context.js";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import {
  killStartedProcesses,
  runToExit,
  startServerProcess,
  type ServerProcess,
} from "@modbox/testkit/processes";
import "@modbox/testkit/provided-context";

const WORKSPACE = "acme";
const BOOTSTRAP = `mbx_${"k".repeat(40)}`;

afterEach(killStartedProcesses);

/** The API as a script would call it, with the bootstrap token. */
function api(server: ServerProcess) {
  const headers = { authorization: `Bearer ${BOOTSTRAP}`, "x-workspace-id": WORKSPACE, "content-type": "application/json" };
  return {
    async createRegistries(n: number, prefix: string): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${server.url}/registries`, {
          method: "POST",
          headers,
          body: JSON.stringify({ name: `${prefix}-${i}`, server: "ghcr.io", username: "robot", password: `ghp_${prefix}${i}`.padEnd(40, "x") }),
        });
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as { id: string }).id);
      }
      return ids;
    },
    /** A username change re-checks provider rules against the stored password: it must decrypt it. */
    async reopen(id: string): Promise<number> {
      const res = await fetch(`${server.url}/registries/${id}`, { method: "PUT", headers, body: JSON.stringify({ username: `robot-${Date.now()}` }) });
      await res.arrayBuffer();
      return res.status;
    },
    async setPassword(id: string, password: string): Promise<number> {
      const res = await fetch(`${server.url}/registries/${id}`, { method: "PUT", headers, body: JSON.stringify({ password }) });
      await res.arrayBuffer();
      return res.status;
    },
    async get(id: string): Promise<number> {
      const res = await fetch(`${server.url}/registries/${id}`, { headers });
      await res.arrayBuffer();
      return res.status;
    },
    async ready(): Promise<{ status: number; body: string }> {
      const res = await fetch(`${server.url}/readyz`);
      return { status: res.status, body: await res.text() };
    },
  };
}

const spec = (...keys: KeyringKey[]) => formatKeyringSpec(keys);

// Each test starts the server or the keys CLI several times (a PGlite start is seconds, more on a
// busy machine): the 30 s default is a hang guard too tight for that.
describe("the embedded database", { timeout: 120_000 }, () => {
  let dir: string;
  const env = () => ({ MODBOX_DATA_DIR: join(dir, "data"), MODBOX_BOOTSTRAP_TOKEN: BOOTSTRAP });
  const keyFile = () => join(dir, "data", "encryption-keys");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "modbox-keys-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  let ids: string[] = [];

  it("refuses to start without its key file once passwords are stored, and generates no new key", async () => {
    const first = await startServerProcess(env());
    ids = await api(first).createRegistries(5, "lost");
    expect(await first.stop()).toBe(0);
    const original = await readFile(keyFile(), "utf8");
    const keyId = original.split(":")[0]!;
    await copyFile(keyFile(), join(dir, "backup"));
    await rm(keyFile());

    const refused = await runToExit("server", [], env());

    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the key file ${keyFile()} is missing, but the database holds 5 password(s) sealed by key(s) "${keyId}" (5)`);
    expect(refused.stderr).toContain("none was generated and nothing was written");
    expect(await readdir(join(dir, "data"))).not.toContain("encryption-keys");
    expect(refused.stderr + refused.stdout).not.toContain(original.split(":")[1]!.trim());
  });

  it("refuses a key file whose key has the right id and other bytes, naming the key and its passwords", async () => {
    const keyId = (await readFile(join(dir, "backup"), "utf8")).split(":")[0]!;
    const impostor = { ...generateKey(), id: keyId };
    await writeFile(keyFile(), spec(impostor), { mode: 0o600 });

    const refused = await runToExit("server", [], env());

    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`key "${keyId}" is configured with other bytes than the key that sealed its 5 passwords`);
    expect(refused.stderr).not.toContain(Buffer.from(impostor.key).toString("base64"));
  });

  it("serves again, every password readable, once the key file is restored", async () => {
    await copyFile(join(dir, "backup"), keyFile());
    const server = await startServerProcess(env());
    for (const id of ids) expect(await api(server).reopen(id)).toBe(200);
    expect((await api(server).ready()).status).toBe(200);
    expect(await server.stop()).toBe(0);
  });

  it("rotates: keys add, a start on the new key, keys rotate, keys retire; every password still opens", async () => {
    const oldKeyId = (await readFile(keyFile(), "utf8")).split(":")[0]!;
    const added = await runToExit("keys", ["add"], env());
    expect(added.code).toBe(0);
    const newKeyId = /Added key "([^"]+)"/.exec(added.stderr)?.[1];
    expect(newKeyId).toBeDefined();

    // The new key seals from the next start; the old one still opens what it sealed.
    const server = await startServerProcess(env());
    const fresh = await api(server).createRegistries(2, "fresh");
    for (const id of ids) expect(await api(server).reopen(id)).toBe(200);
    const whileRunning = await runToExit("keys", ["rotate"], env());
    expect(whileRunning.code).toBe(1);
    expect(whileRunning.stderr).toContain("is in use by");
    expect(await server.stop()).toBe(0);

    const early = await runToExit("keys", ["retire", oldKeyId], env());
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`Refusing to retire "${oldKeyId}": 5 stored password(s) are still sealed by it`);

    const rotated = await runToExit("keys", ["rotate", "--batch-size", "2"], env());
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(new RegExp(`^Re-encrypted 5 password\\(s\\) to key ${newKeyId} in .*; 0 could not be opened; 0 left on other keys\\.$`, "m"));

    const status = JSON.parse((await runToExit("keys", ["status", "--json"], env())).stdout) as {
      active_key_id: string;
      keys: { key_id: string; role: string; check: string; passwords: number; encryptions: number }[];
    };
    expect(status.active_key_id).toBe(newKeyId);
    expect(status.keys.find((k) => k.key_id === newKeyId)).toMatchObject({ role: "active", check: "ok", passwords: 7 });
    expect(status.keys.find((k) => k.key_id === oldKeyId)).toMatchObject({ role: "decrypt-only", check: "ok", passwords: 0 });

    const retired = await runToExit("keys", ["retire", oldKeyId], env());
    expect(retired.code).toBe(0);
    expect((await readFile(keyFile(), "utf8")).trim().split(",")).toHaveLength(1);

    const after = await startServerProcess(env());
    for (const id of [...ids, ...fresh]) expect(await api(after).reopen(id)).toBe(200);
    expect(await after.stop()).toBe(0);
  });
});

const postgresUrl = inject("postgresUrl");

describe.skipIf(!postgresUrl)("PostgreSQL", { timeout: 120_000 }, () => {
  let database: PostgresTestDatabase;
  const k1 = generateKey();
  const k2 = generateKey();
  const env = (keys: string) => ({ DATABASE_URL: database.url, MODBOX_ENCRYPTION_KEYS: keys, MODBOX_BOOTSTRAP_TOKEN: BOOTSTRAP });
  let ids: string[] = [];

  beforeAll(async () => {
    database = await createPostgresTestDatabase(postgresUrl!);
  });
  afterAll(() => database?.drop());

  it("refuses a start whose MODBOX_ENCRYPTION_KEYS lacks the key that sealed the stored passwords", async () => {
    const first = await startServerProcess(env(spec(k1)));
    ids = await api(first).createRegistries(300, "pg");
    expect(await first.stop()).toBe(0);

    const refused = await runToExit("server", [], env(spec(k2)));

    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`key "${k1.id}" is not configured; it sealed 300 passwords stored in the database`);
    expect(refused.stderr).toContain("Restore the original key(s) in MODBOX_ENCRYPTION_KEYS");
  });

  it("an instance that cannot open what another one seals is not ready", async () => {
    const old = await startServerProcess(env(spec(k1)));
    expect((await api(old).ready()).status).toBe(200);
    // A second instance with the new key active records it; the old instance does not hold it.
    const next = await startServerProcess(env(spec(k2, k1)));
    const notReady = await api(old).ready();
    expect(notReady.status).toBe(503);
    expect(notReady.body).toContain("does not hold every encryption key");
    expect((await api(next).ready()).status).toBe(200);
    expect(await old.stop()).toBe(0);
    expect(await next.stop()).toBe(0);

    // And a start without the new key is now refused: it has a recorded check value.
    const refused = await runToExit("server", [], env(spec(k1)));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`key "${k2.id}" is not configured`);
  });

  it("keys rotate re-encrypts every password while the API serves: no failed read, no lost write", async () => {
    const server = await startServerProcess(env(spec(k2, k1)));
    const client = api(server);
    let stop = false;
    const failures: number[] = [];
    let reads = 0;
    // Each writer owns every 4th registry, so the last password it saw acknowledged is the one
    // that must be stored at the end, whatever rotation did meanwhile.
    const acknowledged = new Map<string, string>();
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        const mine = ids.filter((_, i) => i % 4 === worker);
        for (let i = 0; !stop && i < 100_000; i++) {
          const id = mine[i % mine.length]!;
          if (worker < 2) {
            const status = i % 2 === 0 ? await client.reopen(id) : await client.get(id);
            reads++;
            if (status !== 200) failures.push(status);
          } else {
            const password = `ghp_rotated_${worker}_${i}`.padEnd(40, "z");
            const status = await client.setPassword(id, password);
            if (status === 200) acknowledged.set(id, password);
            else failures.push(status);
          }
        }
      }),
    );

    const rotated = await runToExit("keys", ["rotate", "--batch-size", "25"], env(spec(k2, k1)));
    stop = true;
    await load;

    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^Re-encrypted \d+ password\(s\) to key .*; 0 could not be opened; 0 left on other keys\.$/m);
    expect(reads).toBeGreaterThan(0);
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    expect(await server.stop()).toBe(0);

    // Every stored password is on the new key and is the last one the API acknowledged.
    const cipher = createCipher(parseKeyringSpec(spec(k2, k1)));
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ id: string; workspace_id: string; password_ciphertext: string; password_key_id: string }[]>`
        select id, workspace_id, password_ciphertext, password_key_id from registries where password_ciphertext is not null`;
      expect(rows).toHaveLength(ids.length);
      expect(new Set(rows.map((r) => r.password_key_id))).toEqual(new Set([k2.id]));
      for (const row of rows) {
        const expected = acknowledged.get(row.id) ?? `ghp_pg${ids.indexOf(row.id)}`.padEnd(40, "x");
        expect(cipher.decrypt(row.password_ciphertext, credentialContext(row.workspace_id, row.id))).toBe(expected);
      }
    } finally {
      await sql.end();
    }

    const retired = await runToExit("keys", ["retire", k1.id], env(spec(k2, k1)));
    expect(retired.code).toBe(0);
    expect(retired.stderr).toContain("Remove it from MODBOX_ENCRYPTION_KEYS on every instance");

    const after = await startServerProcess(env(spec(k2)));
    for (const id of ids.slice(0, 20)) expect(await api(after).reopen(id)).toBe(200);
    expect(await after.stop()).toBe(0);
  });

  it("keys rotate refuses an active key that no server has started with", async () => {
    const k3 = generateKey();
    const refused = await runToExit("keys", ["rotate"], env(spec(k3, k2)));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`no server has started with the active key "${k3.id}" yet`);
  });
});
