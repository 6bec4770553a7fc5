import { defineProject } from "vitest/config";

// The kit's own tests prove the real components it starts (PostgreSQL, the private registry).
export default defineProject({
  test: {
    name: "testkit",
    include: ["test/**/*.test.ts"],
    testTimeout: 30000,
    hookTimeout: 120000,
  },
});
