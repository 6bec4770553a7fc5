// @ts-check
/**
 * `prepack` / `postpack`: puts the packed manifest and the LICENSE in place for the length of a
 * pack, then puts the workspace's package.json back byte for byte.
 *
 *   node scripts/pack-stage.mjs write     (prepack, after the build)
 *   node scripts/pack-stage.mjs restore   (postpack)
 *
 * npm packs package.json as it is on disk when prepack has run, so rewriting it is the one way
 * `npm pack` ships a manifest other than the workspace's. Each file is replaced by a rename, so a
 * process reading package.json meanwhile sees the old or the new one, never half of either.
 * A failed pack skips postpack: the backup stays, and the next `write` refuses until it is restored.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { toPackedManifest } from "./packed-manifest.mjs";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const manifestPath = `${packageDir}package.json`;
const backupPath = `${packageDir}package.json.workspace`;
// One LICENSE for the repository, copied in for the tarball (npm and pnpm pack a root LICENSE
// whatever `files` says).
const rootLicense = fileURLToPath(new URL("../../../LICENSE", import.meta.url));
const packedLicense = `${packageDir}LICENSE`;

function write() {
  if (existsSync(backupPath)) {
    throw new Error(
      `${backupPath} exists: a previous pack did not finish. Run \`node scripts/pack-stage.mjs restore\` in packages/sdk first.`,
    );
  }
  const workspaceText = readFileSync(manifestPath, "utf8");
  const packed = toPackedManifest(JSON.parse(workspaceText)); // throws before anything is touched
  copyFileSync(rootLicense, packedLicense);
  writeFileSync(backupPath, workspaceText);
  replaceFile(manifestPath, `${JSON.stringify(packed, null, 2)}\n`);
}

function restore() {
  if (existsSync(backupPath)) renameSync(backupPath, manifestPath);
  rmSync(packedLicense, { force: true });
}

function replaceFile(/** @type {string} */ path, /** @type {string} */ text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const command = process.argv[2];
if (command === "write") write();
else if (command === "restore") restore();
else throw new Error(`usage: node scripts/pack-stage.mjs write|restore (got ${command})`);
