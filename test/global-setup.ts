/**
 * Vitest global setup (root vitest.config.ts): gives the whole test run one PostgreSQL 15 server,
 * so the contract tests run against real PostgreSQL as well as PGlite.
 *
 * - DATABASE_URL set: use that server as is (nothing is started or stopped).
 * - Otherwise: start a throwaway PostgreSQL 15 on a free port on 127.0.0.1, stop it and delete
 *   its data dir in teardown.
 * - PostgreSQL 15 not installed: an error in CI (CI set), a loud warning and `null` locally
 *   (suites that need it then skip).
 *
 * Tests read the admin URL with `inject("postgresUrl")` and create their own database with
 * `createPostgresTestDatabase()` (@modbox/testkit/postgres).
 */
import type { TestProject } from "vitest/node";
import { postgresBinariesAvailable, postgresBinDir, startPostgresServer } from "@modbox/testkit/postgres";
import "@modbox/testkit/provided-context";

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    console.log("[global-setup] PostgreSQL: using DATABASE_URL");
    project.provide("postgresUrl", fromEnv);
    return undefined;
  }

  if (!postgresBinariesAvailable()) {
    const message = `PostgreSQL 15 is not installed (no initdb/pg_ctl/postgres in ${postgresBinDir})`;
    if (process.env.CI) throw new Error(`${message}: the PostgreSQL test suites cannot run in CI`);
    console.warn(
      [
        "",
        "!".repeat(78),
        `!! ${message}.`,
        "!! The PostgreSQL test suites are SKIPPED; only PGlite is tested.",
        "!! Install it (Debian: apt-get install postgresql-15) or set DATABASE_URL.",
        "!".repeat(78),
        "",
      ].join("\n"),
    );
    project.provide("postgresUrl", null);
    return undefined;
  }

  const started = Date.now();
  const server = await startPostgresServer();
  console.log(`[global-setup] PostgreSQL 15 started on ${new URL(server.url).host} in ${Date.now() - started} ms`);
  project.provide("postgresUrl", server.url);
  return async () => {
    await server.stop();
  };
}
