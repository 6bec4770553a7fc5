// @ts-check
/**
 * The server's `postinstall`. In the workspace it does nothing. In a directory made by
 * `pnpm --filter @modbox/server deploy --prod <dir>` it makes the copied workspace packages
 * (@modbox/crypto) load their build, as `pnpm pack` would ship them.
 *
 * In the repository, @modbox/crypto's `exports` name its TypeScript sources, so tsx, vitest and tsc
 * run and check them with no build step; its `publishConfig` names dist/, what a packed copy
 * must load. pnpm deploy copies a workspace dependency's files (its `files`: dist/) but not its
 * publishConfig (pnpm/pnpm#6693, still so in pnpm 12.4.2), so the copy would point at sources it
 * does not hold. pnpm runs the deployed package's `postinstall` in the deploy directory, after
 * installing its dependencies: this applies each copy's publishConfig there.
 *
 * A dependency linked to the workspace (a symbolic link out of node_modules, as `pnpm install`
 * makes) is left alone: that is the development set-up. The manifest is replaced by a rename,
 * never rewritten in place (it may be a hard link to pnpm's store). Running it again is a no-op.
 */
import { existsSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The manifest fields `pnpm pack` takes from publishConfig; the others (access, registry, …) are npm settings. */
const FIELDS = ["bin", "main", "module", "exports", "imports", "types", "typings", "typesVersions", "browser"];

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const ours = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
const nodeModules = join(packageDir, "node_modules");

let copies = 0;
for (const name of Object.keys(ours.dependencies ?? {}).filter((n) => n.startsWith("@modbox/"))) {
  const location = join(nodeModules, name);
  if (!existsSync(location)) continue;
  const real = realpathSync(location);
  if (!real.startsWith(realpathSync(nodeModules) + sep)) continue; // linked to the workspace: sources
  copies++;
  const file = join(real, "package.json");
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  const publishConfig = manifest.publishConfig ?? {};
  const applied = FIELDS.filter((field) => field in publishConfig);
  if (applied.length > 0) {
    for (const field of applied) {
      manifest[field] = publishConfig[field];
      delete publishConfig[field];
    }
    if (Object.keys(publishConfig).length === 0) delete manifest.publishConfig;
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`, { mode: statSync(file).mode & 0o777 });
    renameSync(temporary, file);
    console.log(`${ours.name}: ${name} now loads its build (${applied.join(", ")} from its publishConfig)`);
  }
  const entry = manifest.exports?.["."]?.import ?? manifest.exports?.["."]?.default ?? manifest.exports?.["."] ?? manifest.main;
  if (typeof entry !== "string" || !existsSync(join(real, entry))) {
    fail(`${name} has no ${typeof entry === "string" ? entry : "entry point"} in this directory. Run \`pnpm build\` before \`pnpm deploy\`.`);
  }
}
if (copies > 0 && !existsSync(join(packageDir, "dist", "main.js"))) {
  fail("dist/main.js is missing: the server was deployed unbuilt. Run `pnpm build` before `pnpm deploy`.");
}

/** @param {string} message */
function fail(message) {
  console.error(`${ours.name}: ${message}`);
  process.exit(1);
}
