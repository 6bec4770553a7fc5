/**
 * What the root global setup (test/global-setup.ts) provides to every test through vitest's
 * `provide`/`inject`. One declaration that every importer sees (the kit's helpers, the server's
 * tests, the root setup, the bench's smoke test), so all agree on the typing.
 */
import type {} from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /**
     * Superuser URL of a PostgreSQL 15 server for this test run: a throwaway server started by
     * the global setup, or DATABASE_URL when set. `null` only outside CI when PostgreSQL 15 is not
     * installed: suites that need it skip (`describe.skipIf(!inject("postgresUrl"))`).
     * Never create tables in it directly: make a database per test file with
     * `createPostgresTestDatabase(url)` from ./postgres.ts.
     */
    postgresUrl: string | null;
  }
}
