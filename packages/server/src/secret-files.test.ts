import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadDatabaseLocation } from "./config.js";
import { readSecretFiles } from "./secret-files.js";

const dir = mkdtempSync(join(tmpdir(), "modbox-secret-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

const KEY = `k1:${Buffer.alloc(32, 7).toString("base64")}`;

describe("readSecretFiles", () => {
  it("reads NAME from NAME_FILE, trimming the final newline, and drops NAME_FILE", () => {
    const result = readSecretFiles({ MODBOX_ENCRYPTION_KEYS_FILE: secretFile("keys", `${KEY}\n`), PORT: "9" });
    expect(result).toEqual({ ok: true, env: { MODBOX_ENCRYPTION_KEYS: KEY, PORT: "9" } });
  });

  it("leaves the environment as it is when no NAME_FILE is set (or it is empty)", () => {
    expect(readSecretFiles({ DATABASE_URL: "postgres://h/db", DATABASE_URL_FILE: "" })).toEqual({
      ok: true,
      env: { DATABASE_URL: "postgres://h/db", DATABASE_URL_FILE: "" },
    });
  });

  it("refuses NAME and NAME_FILE together, an unreadable file and an empty one, naming each", () => {
    const result = readSecretFiles({
      DATABASE_URL: "postgres://h/db",
      DATABASE_URL_FILE: secretFile("url", "postgres://other/db"),
      MODBOX_ENCRYPTION_KEYS_FILE: join(dir, "missing"),
      MODBOX_BOOTSTRAP_TOKEN_FILE: secretFile("empty", " \n"),
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        "DATABASE_URL_FILE: DATABASE_URL is set too; set one of them",
        `MODBOX_ENCRYPTION_KEYS_FILE: cannot read ${join(dir, "missing")} (ENOENT)`,
        `MODBOX_BOOTSTRAP_TOKEN_FILE: ${join(dir, "empty")} is empty`,
      ],
    });
  });

  it("reads only the names asked for", () => {
    const env = { MODBOX_ENCRYPTION_KEYS_FILE: join(dir, "missing") };
    expect(readSecretFiles(env, ["DATABASE_URL"])).toEqual({ ok: true, env });
  });
});

describe("secrets from files in loadConfig and loadDatabaseLocation", () => {
  it("starts on PostgreSQL with the URL, the keys and the bootstrap token all from files", () => {
    const token = `mbx_${"a".repeat(40)}`;
    const config = loadConfig({
      DATABASE_URL_FILE: secretFile("db-url", "postgres://modbox:s3cret@db:5432/modbox\n"),
      MODBOX_ENCRYPTION_KEYS_FILE: secretFile("enc-keys", `${KEY}\n`),
      MODBOX_BOOTSTRAP_TOKEN_FILE: secretFile("bootstrap", `${token}\n`),
    });
    expect(config.database).toMatchObject({ kind: "postgres", url: "postgres://modbox:s3cret@db:5432/modbox" });
    expect(config.encryption.keysSpec).toBe(KEY);
    expect(config.bootstrapToken).toBe(token);
  });

  it("validates a value from a file as it validates the variable, without showing it", () => {
    const attempt = () => loadConfig({ DATABASE_URL_FILE: secretFile("bad-url", "mysql://root:hunter2@db/x"), MODBOX_ENCRYPTION_KEYS: KEY });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/DATABASE_URL: must be a postgres/);
    expect(attempt).not.toThrow(/hunter2/);
  });

  it("gives the tokens command its database from DATABASE_URL_FILE, and never asks for the keys' file", () => {
    const location = loadDatabaseLocation({
      DATABASE_URL_FILE: secretFile("db-url-2", "postgres://u@h/db"),
      MODBOX_ENCRYPTION_KEYS_FILE: join(dir, "missing"),
    });
    expect(location.database).toMatchObject({ kind: "postgres", url: "postgres://u@h/db" });
  });
});
