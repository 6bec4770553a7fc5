/**
 * The container image, built and run as CI runs it (podman; no Docker engine or image registry
 * here, so the base image is assembled from Debian and npm: testkit/container.ts): what is in
 * the image, the seed page walked against the running container on the embedded default and on
 * PostgreSQL with its secrets from files, the HEALTHCHECK, and a clean SIGTERM as PID 1.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildImage,
  imageConfig,
  missingContainerTools,
  removeStartedContainers,
  runOnce,
  startContainer,
  volumeName,
  type BuiltImage,
} from "@modbox/testkit/container";
import { findFreePort } from "@modbox/testkit/ports";
import { createPostgresTestDatabase, type PostgresTestDatabase } from "@modbox/testkit/postgres";
import { walkSeedPage } from "@modbox/testkit/seed-page";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const missing = missingContainerTools();
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(`\n!! container e2e SKIPPED: missing ${missing.join(", ")} (Debian, as root: apt-get install podman runc mmdebstrap)\n`);
}
const postgresAdminUrl = inject("postgresUrl");
const BUILD_BUDGET_MS = 40 * 60_000;
const CONTAINER_BUDGET_MS = 240_000;
const TOKEN = /(mbx_[A-Za-z0-9_-]{40})/;

describe.skipIf(skip)("the container image", () => {
  let built: BuiltImage;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "modbox-container-"));
    built = await buildImage();
    console.info(
      `container image: base ${(built.baseMs / 1000).toFixed(0)} s, build ${(built.buildMs / 1000).toFixed(0)} s, ` +
        `${(built.sizeBytes / 1e6).toFixed(0)} MB`,
    );
  }, BUILD_BUDGET_MS);
  afterAll(async () => {
    await removeStartedContainers();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 120_000);

  it("runs node dist/main.js as an unprivileged user, with /data a volume and a HEALTHCHECK on /healthz", async () => {
    const config = await imageConfig();
    expect(config.User).toBe("modbox:modbox");
    expect(config.Cmd).toEqual(["node", "dist/main.js"]);
    expect(config.WorkingDir).toBe("/app");
    expect(config.StopSignal).toBe("SIGTERM");
    expect(Object.keys(config.Volumes ?? {})).toEqual(["/data"]);
    expect(config.Env).toEqual(expect.arrayContaining(["NODE_ENV=production", "HOST=0.0.0.0", "PORT=8080", "MODBOX_DATA_DIR=/data"]));
    expect(config.Healthcheck?.Test.join(" ")).toContain("/healthz");

    const inside = await runOnce(["sh", "-c", "id -u; node --version; ls /app; ls /app/node_modules /app/node_modules/.bin 2>/dev/null | tr '\\n' ' '; command -v pnpm || echo no-pnpm; touch /app/x 2>&1 || true"]);
    expect(inside.code).toBe(0);
    const [uid, nodeVersion, ...rest] = inside.stdout.trim().split("\n");
    expect(uid).toBe("10001");
    expect(nodeVersion).toMatch(/^v22\./);
    const listing = rest.join("\n");
    expect(listing).toContain("dist");
    expect(listing).toContain("drizzle");
    expect(listing).not.toMatch(/\bsrc\b/);
    expect(listing).not.toMatch(/\b(tsx|typescript|vitest)\b/);
    expect(listing).toContain("no-pnpm");
    // The application is root's: the server cannot change its own code.
    expect(listing).toMatch(/Permission denied/);
  });

  it("on the embedded default: prints a first token, walks the seed page, is healthy, stops on SIGTERM, keeps its data in the volume", async () => {
    const data = volumeName("data");
    const port = await findFreePort();
    const first = await startContainer(port, { mounts: [`${data}:/data`] });
    const firstLogs = await first.logs();
    const token = TOKEN.exec(firstLogs)?.[1];
    expect(token, firstLogs).toBeDefined();
    expect(firstLogs).toContain('"database":"pglite"');

    const walk = await walkSeedPage(first.url, token!);
    const health = await first.healthcheck();
    expect(health.code, `${health.stdout}${health.stderr}`).toBe(0);

    const stopped = await first.stop();
    expect(stopped.exitCode).toBe(0);
    const logs = await first.logs();
    expect(logs).toContain('"signal":"SIGTERM"');
    expect(logs).toContain("server stopped");
    for (const secret of walk.secrets.filter((secret) => secret !== token)) expect(logs).not.toContain(secret);

    // A new container on the same volume: the same key and data, no second first-run token.
    const again = await startContainer(port, { mounts: [`${data}:/data`] });
    const againLogs = await again.logs();
    expect(TOKEN.exec(againLogs)).toBeNull();
    const kept = await fetch(`${again.url}/registries/${walk.keptRegistryId}`, {
      headers: { authorization: `Bearer ${token}`, "x-workspace-id": "your-workspace-id" },
    });
    expect(kept.status).toBe(200);
    expect((await again.stop()).exitCode).toBe(0);
  }, CONTAINER_BUDGET_MS);

  describe.skipIf(!postgresAdminUrl)("on PostgreSQL, with its secrets from files (as compose.yaml mounts them)", () => {
    let database: PostgresTestDatabase;
    let secrets: string;
    beforeAll(async () => {
      database = await createPostgresTestDatabase(postgresAdminUrl!);
      secrets = await mkdtemp(join(scratch, "secrets-"));
      // Readable by the container's user (uid 10001) through the bind mount, as the README says.
      await chmod(secrets, 0o755);
      await writeFile(join(secrets, "database_url"), `${database.url}\n`, { mode: 0o644 });
      await writeFile(join(secrets, "encryption_keys"), `ci:${randomBytes(32).toString("base64")}\n`, { mode: 0o644 });
    });
    afterAll(async () => {
      await database?.drop();
    });

    const secretMounts = () => [`${join(secrets, "database_url")}:/run/secrets/database_url:ro`, `${join(secrets, "encryption_keys")}:/run/secrets/encryption_keys:ro`];
    const secretEnv = { DATABASE_URL_FILE: "/run/secrets/database_url", MODBOX_ENCRYPTION_KEYS_FILE: "/run/secrets/encryption_keys" };

    it("makes the first admin token with the image's CLI, walks the seed page and stops on SIGTERM", async () => {
      const made = await runOnce(["node", "dist/cli.js", "create", "--name", "ops", "--scope", "admin", "--all-workspaces"], {
        env: secretEnv,
        mounts: secretMounts(),
      });
      expect(made.code, made.stderr).toBe(0);
      const token = TOKEN.exec(made.stdout)?.[1];
      expect(token, made.stdout).toBeDefined();

      const port = await findFreePort();
      const server = await startContainer(port, { env: secretEnv, mounts: secretMounts() });
      const startLogs = await server.logs();
      expect(startLogs).toContain('"database":"postgres"');
      expect(startLogs).not.toContain("No API token");

      const walk = await walkSeedPage(server.url, token!);
      expect((await server.healthcheck()).code).toBe(0);
      const stopped = await server.stop();
      expect(stopped.exitCode).toBe(0);
      const logs = await server.logs();
      expect(logs).toContain("server stopped");
      for (const secret of [...walk.secrets, new URL(database.url).password].filter(Boolean)) expect(logs).not.toContain(secret);
    }, CONTAINER_BUDGET_MS);
  });
});
