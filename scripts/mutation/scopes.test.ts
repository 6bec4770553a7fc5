import { describe, expect, it } from "vitest";
import { scopesFromMutateGlobs } from "./scopes.js";

describe("scopesFromMutateGlobs", () => {
  it("names one scope per folder glob, and the package itself for a package-wide glob", () => {
    expect(scopesFromMutateGlobs("server", ["src/auth/**/*.ts", "src/db/repositories/**/*.ts", "!src/**/*.test.ts"])).toEqual([
      { name: "server/auth", prefix: "src/auth/" },
      { name: "server/db/repositories", prefix: "src/db/repositories/" },
    ]);
    expect(scopesFromMutateGlobs("crypto", ["src/**/*.ts", "!src/**/*.test.ts"])).toEqual([{ name: "crypto", prefix: "src/" }]);
  });

  it("refuses a glob it cannot turn into a folder, instead of scoring nothing", () => {
    expect(() => scopesFromMutateGlobs("server", ["src/auth/api-token.ts"])).toThrow(/src\/auth\/api-token.ts is not of the form/);
    expect(() => scopesFromMutateGlobs("server", ["lib/**/*.ts"])).toThrow(/lib\/\*\*\/\*.ts is not of the form/);
  });
});
