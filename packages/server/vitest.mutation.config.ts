import { defineConfig } from "vitest/config";

// What StrykerJS runs against each server mutant (stryker.config.json): the unit tests next to
// the code, with the run's throwaway PostgreSQL (the repository tests use both databases). The
// contract, security and end-to-end suites are left out: each starts apps, databases or a
// registry per file, which would cost minutes per mutant; their absence is why a mutant only
// they would kill shows as survived here (see MUTATION.md).
export default defineConfig({
  test: {
    name: "server-mutation",
    include: ["src/**/*.test.ts"],
    globalSetup: ["../../test/global-setup.ts"],
    testTimeout: 30000,
    hookTimeout: 120000,
  },
});
