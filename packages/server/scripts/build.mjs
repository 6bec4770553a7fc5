// @ts-check
/**
 * `pnpm build` for the server: dist/ is what `node dist/main.js` runs, with no tsx.
 *
 *   - JavaScript and source maps of src/ (tests left out) from tsconfig.build.json;
 *   - dist/openapi.yaml, a copy of the repository's openapi.yaml, so the built server carries its
 *     contract wherever it is deployed (contract-file.ts reads it there when running from dist/).
 *     The root file stays the one source: the copy is a build output, never tracked.
 *
 * Migrations need no copy: dist/db/migrate.js finds ../../drizzle as src/db/migrate.ts does, and
 * drizzle/ ships beside dist/ (`files` in package.json).
 *
 * dist/ is emptied first, so a module deleted or renamed in src/ never runs from an older build.
 * tsc is found through Node's resolution, not PATH, so this runs the same from any directory.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const contract = fileURLToPath(new URL("../../../openapi.yaml", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(`${packageDir}dist`, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: packageDir, stdio: "inherit" });
copyFileSync(contract, `${packageDir}dist/openapi.yaml`);
