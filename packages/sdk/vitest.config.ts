import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "sdk",
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "scripts/**/*.test.ts"],
    // Type tests (*.test-d.ts) are type-checked, never run. The narrow tsconfig keeps this pass
    // fast (the type tests and what they import); `tsc -p packages/sdk` checks every file.
    typecheck: {
      enabled: true,
      include: ["src/**/*.test-d.ts"],
      tsconfig: "./tsconfig.typecheck.json",
    },
  },
});
