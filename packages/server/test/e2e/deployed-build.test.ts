/**
 * The production build as an operator deploys it (no tsx at run time, nothing of the repository beside it): `pnpm build`, then
 * `pnpm --filter @modbox/server deploy --prod <dir>` into a directory outside the workspace, then
 * `node dist/main.js` there, with no tsx, no sources and no repository beside it. The directory
 * holds the contract and the migrations, its @modbox/crypto loads its build, and the server
 * answers its probes, publishes the root openapi.yaml byte for byte, serves /docs with Redoc's
 * bundle and stores a registry, on the embedded database and on PostgreSQL; its command-line
 * tools run from dist/ too.
 *
 * The test builds and deploys by itself (a minute or two), so `npm test` needs no build step.
 * Needs pnpm on PATH.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { formatKeyringSpec, generateKey } from "@modbox/crypto";
import { buildAndDeployServer, type DeployedServer } from "@modbox/testkit/deployed";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import { killStartedProcesses, runToExit, startServerProcess, type ServerProcess } from "@modbox/testkit/processes";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import "@modbox/testkit/provided-context";

const ROOT_CONTRACT = readFileSync(fileURLToPath(new URL("../../../../openapi.yaml", import.meta.url)));
const MIGRATIONS_DIR = fileURLToPath(new URL("../../drizzle/", import.meta.url));
const DEPLOY_TIMEOUT_MS = 600_000;
const postgresUrl = inject("postgresUrl");

let deployed: DeployedServer;

beforeAll(async () => {
  deployed = await buildAndDeployServer();
  console.log(`pnpm build (crypto, server) ${Math.round(deployed.buildMs)} ms, pnpm deploy --prod ${Math.round(deployed.deployMs)} ms`);
}, DEPLOY_TIMEOUT_MS);
afterAll(async () => {
  await killStartedProcesses();
  await deployed?.remove();
});

/** Every file under a directory, as sorted paths relative to it with `/` separators. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length).split(sep).filter(Boolean).join("/"))
    .sort();
}

function registryBody(name: string) {
  return JSON.stringify({ name, server: "ghcr.io", username: "your-github-username", password: "ghp_your_personal_access_token" });
}

describe("the deployed directory", () => {
  it("holds the built server and its command-line tools, the contract and the migrations, and no sources", () => {
    const dir = deployed.dir;
    for (const file of ["dist/main.js", "dist/cli.js", "dist/keys-cli.js"]) expect(existsSync(join(dir, file)), file).toBe(true);
    expect(readFileSync(join(dir, "dist/openapi.yaml")).equals(ROOT_CONTRACT)).toBe(true);
    const migrations = filesUnder(MIGRATIONS_DIR);
    expect(migrations).toContain("meta/_journal.json");
    expect(filesUnder(join(dir, "drizzle"))).toEqual(migrations);
    for (const absent of ["src", "test", "tsconfig.json", "openapi.yaml"]) expect(existsSync(join(dir, absent)), absent).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(manifest.scripts).toMatchObject({ start: "node dist/main.js", tokens: "node dist/cli.js", keys: "node dist/keys-cli.js" });
  });

  it("installs no development tool: no tsx (nor its esbuild), no TypeScript, no vitest", () => {
    const nodeModules = join(deployed.dir, "node_modules");
    const installed = readdirSync(join(nodeModules, ".pnpm"));
    for (const tool of ["tsx", "esbuild", "typescript", "vitest", "drizzle-kit"]) {
      expect(existsSync(join(nodeModules, tool)), tool).toBe(false);
      expect(installed.filter((name) => name.startsWith(`${tool}@`)), tool).toEqual([]);
    }
  });

  it("has a @modbox/crypto that loads its build, not its TypeScript sources", () => {
    const crypto = join(deployed.dir, "node_modules/@modbox/crypto");
    const manifest = JSON.parse(readFileSync(join(crypto, "package.json"), "utf8")) as { exports: Record<string, { import: string }> };
    expect(manifest.exports["."]!.import).toBe("./dist/index.js");
    expect(existsSync(join(crypto, "dist/index.js"))).toBe(true);
    expect(existsSync(join(crypto, "src"))).toBe(false);
  });
});

describe("node dist/main.js in the deployed directory, on the embedded database", () => {
  let dataDir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modbox-deployed-data-"));
    server = await startServerProcess({ MODBOX_DATA_DIR: dataDir }, deployed);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("answers its probes", async () => {
    for (const path of ["/healthz", "/readyz"]) {
      const answer = await fetch(`${server.url}${path}`);
      expect(answer.status, path).toBe(200);
    }
  });

  it("publishes the repository's openapi.yaml byte for byte", async () => {
    const answer = await fetch(`${server.url}/openapi.yaml`);
    expect(answer.status).toBe(200);
    expect(Buffer.from(await answer.arrayBuffer()).equals(ROOT_CONTRACT)).toBe(true);
  });

  it("serves /docs and Redoc's bundle from its dependencies", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    const script = /<script type="module" src="([^"]+)">/.exec(await page.text())?.[1];
    expect(script).toMatch(/^\/docs\/assets\/redoc-/);
    const bundle = await fetch(`${server.url}${script}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });

  it("stores a registry with the token it printed at first start, and never answers the password", async () => {
    const token = /(mbx_[A-Za-z0-9_-]{40})/.exec(server.stderr())?.[1];
    expect(token, server.stderr()).toBeDefined();
    const headers = { authorization: `Bearer ${token}`, "x-workspace-id": "acme", "content-type": "application/json" };
    const created = await fetch(`${server.url}/registries`, { method: "POST", headers, body: registryBody("GitHub Container Registry") });
    const text = await created.text();
    expect(created.status, text).toBe(201);
    expect(JSON.parse(text)).toMatchObject({ name: "GitHub Container Registry", server: "ghcr.io", provider: "ghcr" });
    expect(text).not.toContain("ghp_your_personal_access_token");
  });

  it("runs its command-line tools from dist/", async () => {
    for (const entry of ["tokens", "keys"] as const) {
      const help = await runToExit(entry, ["--help"], {}, deployed);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout + help.stderr).toContain(`Usage: npm run ${entry} --`);
    }
  });

  it("stops on SIGTERM with exit code 0", async () => {
    expect(await server.stop()).toBe(0);
  });
});

describe.skipIf(!postgresUrl)("node dist/main.js in the deployed directory, on PostgreSQL", () => {
  let database: PostgresTestDatabase;
  let server: ServerProcess;
  const keys = formatKeyringSpec([generateKey()]);
  const env = () => ({ DATABASE_URL: database.url, MODBOX_ENCRYPTION_KEYS: keys });

  beforeAll(async () => {
    database = await createPostgresTestDatabase(postgresUrl!);
    server = await startServerProcess(env(), deployed);
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  it("migrates an empty database, takes a token made by its own CLI and stores a registry", async () => {
    const made = await runToExit("tokens", ["create", "--name", "deployed", "--workspace", "acme"], env(), deployed);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^mbx_/);
    const created = await fetch(`${server.url}/registries`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-workspace-id": "acme", "content-type": "application/json" },
      body: registryBody("On PostgreSQL"),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const listed = await fetch(`${server.url}/registries`, { headers: { authorization: `Bearer ${token}`, "x-workspace-id": "acme" } });
    expect(((await listed.json()) as { data: { name: string }[] }).data.map((r) => r.name)).toEqual(["On PostgreSQL"]);
  });
});
