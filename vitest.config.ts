import { defineConfig } from "vitest/config";

// One run for the whole monorepo: each package is a project with its own vitest.config.ts
// (defineProject). The global setup runs once for the run, whatever projects are selected:
// it starts a throwaway PostgreSQL 15 and provides its URL to every project
// (inject("postgresUrl"), see test/global-setup.ts).
export default defineConfig({
  test: {
    projects: ["packages/*", "bench", "scripts/mutation"],
    globalSetup: ["./test/global-setup.ts"],
  },
});
