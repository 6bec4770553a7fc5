/**
 * compose.yaml, read as compose reads it (no compose runs here: the container e2e runs the image
 * with podman, with the same secrets mounted the same way). What can drift from the server's own
 * rules is checked against them: the environment the server service gets is a valid
 * configuration on PostgreSQL once its secret files are in place, every `<NAME>_FILE` points at
 * a secret the service mounts, and nothing is published beyond the host's loopback.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "@modbox/testkit/deployed";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { SECRET_SETTINGS } from "../../src/secret-files.js";

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  secrets?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
}

const compose = load(readFileSync(join(REPO_ROOT, "compose.yaml"), "utf8")) as ComposeFile;
const server = compose.services.server!;
const postgres = compose.services.postgres!;
const scratch = mkdtempSync(join(tmpdir(), "modbox-compose-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("compose.yaml", () => {
  it("gives the server a valid PostgreSQL configuration from its secret files alone", () => {
    const env = { ...server.environment };
    // As compose mounts them: /run/secrets/<name>; here, files with the same names in a temp dir.
    const contents: Record<string, string> = {
      database_url: "postgres://modbox:pw@postgres:5432/modbox\n",
      encryption_keys: `k1:${Buffer.alloc(32, 1).toString("base64")}\n`,
    };
    for (const [name, value] of Object.entries(env)) {
      if (!name.endsWith("_FILE")) continue;
      const secret = value.replace(/^\/run\/secrets\//, "");
      writeFileSync(join(scratch, secret), contents[secret] ?? "");
      env[name] = join(scratch, secret);
    }
    const config = loadConfig(env);
    expect(config.database).toMatchObject({ kind: "postgres", url: "postgres://modbox:pw@postgres:5432/modbox" });
    expect(config.encryption.keysSpec).toBe(contents.encryption_keys!.trim());
  });

  it("points every <NAME>_FILE at a secret the server mounts, for a setting that may come from a file", () => {
    const fileSettings = Object.entries(server.environment ?? {}).filter(([name]) => name.endsWith("_FILE"));
    expect(fileSettings.length).toBeGreaterThan(0);
    for (const [name, path] of fileSettings) {
      expect(SECRET_SETTINGS).toContain(name.slice(0, -"_FILE".length));
      const secret = path.replace(/^\/run\/secrets\//, "");
      expect(server.secrets).toContain(secret);
      expect(compose.secrets[secret]?.file).toBe(`./secrets/${secret}`);
    }
    expect(Object.keys(server.environment ?? {}).filter((name) => (SECRET_SETTINGS as readonly string[]).includes(name))).toEqual([]);
  });

  it("builds the repository's Dockerfile, waits for a healthy PostgreSQL and publishes on loopback only", () => {
    expect(server.build).toBe(".");
    expect(server.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(postgres.image).toMatch(/postgres:15/);
    expect(postgres.healthcheck?.test).toContain("pg_isready");
    for (const service of Object.values(compose.services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });
});
