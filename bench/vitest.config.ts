import { defineProject } from "vitest/config";

// The bench's smoke test: runs `bench/run.ts --smoke` (a few requests of every scenario on a tiny
// seed) so CI keeps the harness working. The full `pnpm bench` never runs in CI.
export default defineProject({
  test: {
    name: "bench",
    include: ["bench.smoke.test.ts"],
    testTimeout: 120000,
  },
});
