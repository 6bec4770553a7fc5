// @ts-check
/**
 * The package.json that ships in the tarball, derived from the one the workspace uses.
 *
 * In the workspace, `exports` points at src/ (server, test kit and bench run the TypeScript
 * without a build). A published package must point at dist/, and must not carry what only the
 * workspace understands: pnpm's `catalog:` and `workspace:` specifiers, the dev dependencies,
 * the scripts that build it. pnpm applies `publishConfig` and rewrites those specifiers itself,
 * npm does neither, so prepack writes this manifest for both (see pack-stage.mjs).
 */

/** Fields `publishConfig` overrides at the top level, as pnpm applies them. */
const PUBLISH_OVERRIDES = ["exports", "main", "types"];
/** Fields only the workspace uses. */
const WORKSPACE_ONLY = ["scripts", "devDependencies", "publishConfig"];
const DEPENDENCY_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"];
/** Specifiers npm cannot install from a registry. */
const UNPUBLISHABLE_SPECIFIER = /^(catalog|workspace|link|file|portal):/;

/**
 * @param {Record<string, any>} manifest the workspace's package.json
 * @returns {Record<string, any>} the manifest to pack
 */
export function toPackedManifest(manifest) {
  /** @type {Record<string, any>} */
  const packed = {};
  for (const [field, value] of Object.entries(manifest)) {
    if (!WORKSPACE_ONLY.includes(field)) packed[field] = value;
  }
  for (const field of PUBLISH_OVERRIDES) {
    if (manifest.publishConfig?.[field] !== undefined) packed[field] = manifest.publishConfig[field];
  }
  assertPublishable(packed);
  return packed;
}

/** Throws, naming the field, when the manifest still holds something only the workspace resolves. */
function assertPublishable(/** @type {Record<string, any>} */ packed) {
  for (const field of DEPENDENCY_FIELDS) {
    for (const [name, specifier] of Object.entries(packed[field] ?? {})) {
      if (UNPUBLISHABLE_SPECIFIER.test(String(specifier))) {
        throw new Error(`${field}.${name} is "${specifier}", which npm cannot install: pin an exact version in packages/sdk/package.json`);
      }
    }
  }
  for (const field of PUBLISH_OVERRIDES) {
    const targets = JSON.stringify(packed[field] ?? null);
    if (targets.includes("src/")) {
      throw new Error(`${field} points at the sources (${targets}): publishConfig.${field} must point at dist/`);
    }
  }
}
