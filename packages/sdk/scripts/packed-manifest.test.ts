import { describe, expect, it } from "vitest";
import { toPackedManifest } from "./packed-manifest.mjs";

const workspaceManifest = {
  name: "@modbox/sdk",
  version: "0.1.0",
  type: "module",
  exports: { ".": "./src/index.ts" },
  publishConfig: { types: "./dist/index.d.ts", exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } } },
  files: ["dist"],
  scripts: { prepack: "node scripts/build.mjs" },
  dependencies: { "openapi-fetch": "0.17.0" },
  devDependencies: { vitest: "catalog:" },
};

describe("toPackedManifest", () => {
  it("takes the entry points from publishConfig and drops what only the workspace uses", () => {
    expect(toPackedManifest(workspaceManifest)).toEqual({
      name: "@modbox/sdk",
      version: "0.1.0",
      type: "module",
      exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
      types: "./dist/index.d.ts",
      files: ["dist"],
      dependencies: { "openapi-fetch": "0.17.0" },
    });
  });

  it.each(["catalog:", "catalog:sdk", "workspace:*", "link:../x", "file:../x"])(
    "refuses a dependency npm cannot install (%s), naming it",
    (specifier) => {
      const manifest = { ...workspaceManifest, dependencies: { "openapi-fetch": specifier } };
      expect(() => toPackedManifest(manifest)).toThrow(`dependencies.openapi-fetch is "${specifier}"`);
    },
  );

  it("refuses entry points that still lead into src/", () => {
    const manifest = { ...workspaceManifest, publishConfig: { exports: { ".": "./src/index.ts" } } };
    expect(() => toPackedManifest(manifest)).toThrow("publishConfig.exports must point at dist/");
  });

  it("leaves its input as it was", () => {
    const before = structuredClone(workspaceManifest);
    toPackedManifest(workspaceManifest);
    expect(workspaceManifest).toEqual(before);
  });
});
