import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "mutation-summary", include: ["*.test.ts"] } });
