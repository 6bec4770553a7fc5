// @ts-check
/**
 * Builds the publishable SDK into dist/: JavaScript, declarations and source maps from
 * tsconfig.build.json (tests and src/testing excluded), plus the generated openapi.d.ts, which
 * tsc does not copy (a .d.ts is an input, never an output).
 *
 * dist/ is emptied first so that a file deleted or renamed in src/ can never ship from an older
 * build. tsc is found through Node's resolution, not PATH, so this runs the same under
 * `npm pack`, `pnpm pack` and by hand.
 */
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(`${packageDir}dist`, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: packageDir, stdio: "inherit" });
cpSync(`${packageDir}src/generated`, `${packageDir}dist/generated`, { recursive: true });
