import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAdminUrl } from "@modbox/testkit/databases";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import { describeCliError, describeDatabase, EmbeddedDatabaseMissingError } from "./cli-support.js";
import { openDatabase } from "./db/client.js";
import { migrateDatabase } from "./db/migrate.js";
import { runTokensCommand } from "./tokens-command.js";

/** Runs a command in-process with this environment only; its exit code, stdout, stderr, or what it threw. */
async function run(argv: string[], env: Record<string, string>) {
  let stdout = "";
  let stderr = "";
  const io = { env, stdout: (text: string) => void (stdout += text), stderr: (text: string) => void (stderr += text) };
  try {
    return { code: await runTokensCommand(argv, io), stdout, stderr, error: undefined };
  } catch (error) {
    return { code: undefined, stdout, stderr, error };
  }
}

const UUID = "0193b3c6-2a4b-7c8d-9e0f-1a2b3c4d5e6f";

describe("npm run tokens: arguments are checked before any storage is touched", () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "modbox-tokens-cli-"));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it.each<[string, string[], RegExp]>([
    ["create without a grant", ["create", "--name", "ci"], /create needs --workspace <id> \(repeatable\) or --all-workspaces/],
    ["create with both grants", ["create", "--name", "ci", "--workspace", "a", "--all-workspaces"], /not both/],
    ["create without a name", ["create", "--all-workspaces"], /create needs --name/],
    ["create with a blank name", ["create", "--name", " ", "--all-workspaces"], /--name must not/],
    ["an unknown scope", ["create", "--name", "ci", "--all-workspaces", "--scope", "root"], /--scope must be workspace, provisioner or admin/],
    ["an admin token for some workspaces", ["create", "--name", "ci", "--workspace", "a", "--scope", "admin"], /admin token is granted every workspace: use --all-workspaces/],
    ["a workspace id no header could carry", ["create", "--name", "ci", "--workspace", "a b"], /is not a workspace id/],
    ["revoke of something that is not a token id", ["revoke", "nope"], /not a token id|is not one/],
    ["revoke of a pasted token", ["revoke", "mbx_Xq3vT9kLm2Pz8RbW4nYc6HdJ0sFa1GeKb0d90f07"], /is not one/],
    ["revoke without an id", ["revoke"], /revoke needs one token id/],
    ["list with an argument", ["list", "all"], /list takes no arguments/],
    ["an option of create on list", ["list", "--scope", "admin"], /--scope is an option of create only/],
    ["an unknown option", ["create", "--nme", "ci"], /Unknown option '--nme'/],
    ["an unknown command", ["delete", UUID], /unknown command delete/],
  ])("%s: exit 2 with the usage, no database opened, nothing created", async (_, argv, message) => {
    const dataDir = join(scratch, "never-created");
    // Either database: neither is reached. The PostgreSQL one does not exist (a connection would fail).
    const environments: Record<string, string>[] = [{ MODBOX_DATA_DIR: dataDir }, { DATABASE_URL: "postgres://nobody:pw@127.0.0.1:1/none" }];
    for (const env of environments) {
      const result = await run(argv, env);
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain("Usage: npm run tokens");
      expect(result.stderr).not.toContain("Database:");
      expect(result.stdout).toBe("");
      expect(existsSync(dataDir)).toBe(false);
    }
    // Never the token back, had one been pasted.
    expect((await run(argv, { MODBOX_DATA_DIR: dataDir })).stderr).not.toContain("mbx_Xq3vT9kLm2Pz8RbW4nYc6HdJ0sFa1GeKb0d90f07");
  });

  it("help on stdout: exit 0 when asked, 2 with no command", async () => {
    expect(await run(["--help"], {})).toMatchObject({ code: 0, stdout: expect.stringContaining("Usage: npm run tokens") });
    expect(await run([], {})).toMatchObject({ code: 2, stdout: expect.stringContaining("Usage: npm run tokens") });
  });

  it("generate-key needs no database", async () => {
    const result = await run(["generate-key"], { MODBOX_DATA_DIR: join(scratch, "keys-only") });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[A-Za-z0-9_-]+:[A-Za-z0-9+/]{43}=\n$/);
    expect(existsSync(join(scratch, "keys-only"))).toBe(false);
  });

  it("refuses a data directory without a database, naming it, instead of creating one", async () => {
    const dataDir = join(scratch, "forgot-database-url");
    for (const argv of [["list"], ["create", "--name", "ci", "--all-workspaces"], ["revoke", UUID]]) {
      const result = await run(argv, { MODBOX_DATA_DIR: dataDir });
      expect(result.error).toBeInstanceOf(EmbeddedDatabaseMissingError);
      expect(result.stderr).toBe(`Database: embedded database at ${dataDir}\n`);
      const message = describeCliError(result.error);
      expect(message).toContain(dataDir);
      expect(message).toMatch(/MODBOX_DATA_DIR/);
      expect(message).toMatch(/DATABASE_URL/);
      expect(existsSync(dataDir)).toBe(false);
    }
  });

  it("a bad DATABASE_URL is a configuration error naming the variable, not its value", async () => {
    const result = await run(["list"], { DATABASE_URL: "mysql://user:hunter2@db/x" });
    expect(describeCliError(result.error)).toMatch(/DATABASE_URL: must be a postgres/);
    expect(describeCliError(result.error)).not.toContain("hunter2");
  });
});

describe("describeDatabase: the one line a command says about its database", () => {
  it.each([
    ["postgres://modbox:hunter2@db.internal:6543/registries?sslmode=require&password=hunter2", "PostgreSQL at db.internal:6543/registries"],
    ["postgresql://db.internal/registries", "PostgreSQL at db.internal:5432/registries"],
    ["postgres://u:hunter2@[2001:db8::1]:5433/my%20db", "PostgreSQL at [2001:db8::1]:5433/my db"],
    ["postgres://u:hunter2@db.internal", "PostgreSQL at db.internal:5432/(the user's default database)"],
  ])("%s → %s, never the password", (url, expected) => {
    const line = describeDatabase({ dataDir: "/unused", database: { kind: "postgres", url, poolSize: 1, connectTimeoutSeconds: 1 } });
    expect(line).toBe(expected);
    expect(line).not.toContain("hunter2");
  });

  it("the embedded database by its data directory", () => {
    expect(describeDatabase({ dataDir: "/srv/modbox", database: { kind: "pglite", dataDir: "/srv/modbox/pglite" } })).toBe(
      "embedded database at /srv/modbox",
    );
  });
});

describe("npm run tokens on the embedded database the server made", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modbox-tokens-cli-embedded-"));
    const database = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "pglite") });
    await migrateDatabase(database);
    await database.close();
  }, 60_000);
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("creates, lists and revokes, with no encryption key, saying which database", async () => {
    const env = { MODBOX_DATA_DIR: dataDir };
    const created = await run(["create", "--name", "ops", "--scope", "admin", "--all-workspaces"], env);
    expect(created.error).toBeUndefined();
    expect(created.code).toBe(0);
    expect(created.stderr.split("\n")[0]).toBe(`Database: embedded database at ${dataDir}`);
    const token = created.stdout.trim();
    expect(token).toMatch(/^mbx_[A-Za-z0-9_-]{32}[0-9a-f]{8}$/);

    const listed = await run(["list"], env);
    const [line] = listed.stdout.trim().split("\n");
    expect(line).toMatch(/\tops\tscope=admin\tworkspaces=\*\t.*\tactive$/);
    expect(listed.stdout).not.toContain(token);
    const id = line!.split("\t")[0]!;

    expect(await run(["revoke", id.toUpperCase()], env)).toMatchObject({ code: 0, stderr: expect.stringContaining(`Revoked ${id}`) });
    expect(await run(["revoke", id], env)).toMatchObject({ code: 0, stderr: expect.stringContaining("was already revoked") });
    expect(await run(["revoke", UUID], env)).toMatchObject({ code: 1, stderr: expect.stringContaining(`No token with id ${UUID}`) });
    expect((await run(["list"], env)).stdout).toMatch(/\trevoked=/);
  });
});

describe.skipIf(!postgresAdminUrl)("npm run tokens on PostgreSQL", () => {
  let database: PostgresTestDatabase;
  beforeAll(async () => {
    database = await createPostgresTestDatabase(postgresAdminUrl!);
  });
  afterAll(() => database?.drop());

  it("needs no MODBOX_ENCRYPTION_KEYS (the server would), and names host, port and database, never the password", async () => {
    // Trust authentication ignores the password: it is there to be left out of the output.
    const url = new URL(database.url);
    url.password = "hunter2-never-printed";
    const env = { DATABASE_URL: url.toString() };
    const created = await run(["create", "--name", "provisioner", "--scope", "provisioner", "--workspace", "acme"], env);
    expect(created.error).toBeUndefined();
    expect(created.code).toBe(0);
    expect(created.stderr.split("\n")[0]).toBe(`Database: PostgreSQL at ${url.hostname}:${url.port}/${database.name}`);
    expect(created.stderr + created.stdout).not.toContain("hunter2-never-printed");
    expect((await run(["list"], env)).stdout).toMatch(/\tprovisioner\tscope=provisioner\tworkspaces=acme\t/);
  });
});
