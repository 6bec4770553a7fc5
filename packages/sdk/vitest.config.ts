import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "sdk",
    include: ["src/**/*.test.ts"],
    // Type tests (*.test-d.ts) are only type-checked, never run; tsc -p packages/sdk checks
    // them too, since tsconfig.json includes all of src.
    typecheck: {
      enabled: true,
      include: ["src/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
  },
});
