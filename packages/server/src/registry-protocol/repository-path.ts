/**
 * Repository paths (`library/ubuntu`, `acme/team/app`) by the grammar of distribution/reference,
 * shared by image references (reference.ts) and by the repository prefix a registry server may
 * carry (`ghcr.io/acme`, hosts.ts), so that a prefix is written exactly as the images under it:
 *
 *   path      := component [ "/" component ]*
 *   component := [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
 *
 * Reasons name the rule, never echo the input.
 */

/** Longest name (`domain[:port]/path`), as in distribution/reference. */
export const NAME_TOTAL_LENGTH_MAX = 255;

// distribution writes the separator as `[-]*`; `-+` matches the same names without the nested
// ambiguity that makes `[-]*` backtrack exponentially on a long invalid component.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export const PATH_REASONS = {
  emptyComponent: "repository path must not contain empty components (//, or a leading or trailing /)",
  lowercase: "repository name must be lowercase",
  component: "repository path components must match [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*",
} as const;

/**
 * Undefined when `path` (without a leading `/`) is a valid repository path, else the reason.
 *
 * @example checkRepositoryPath("acme/team") // undefined
 * @example checkRepositoryPath("Acme")      // "repository name must be lowercase"
 */
export function checkRepositoryPath(path: string): string | undefined {
  for (const component of path.split("/")) {
    if (component === "") return PATH_REASONS.emptyComponent;
    if (/[A-Z]/.test(component)) return PATH_REASONS.lowercase;
    if (!PATH_COMPONENT.test(component)) return PATH_REASONS.component;
  }
  return undefined;
}

/**
 * True when `repository` is `prefix` or lies under it, compared at a path-segment boundary:
 * `acme` covers `acme/app` and `acme` itself, never `acmecorp/app`. An empty prefix (a registry
 * server without a path) covers every repository.
 *
 * @example isUnderPrefix("acme/app", "acme")     // true
 * @example isUnderPrefix("acmecorp/app", "acme") // false
 */
export function isUnderPrefix(repository: string, prefix: string): boolean {
  return prefix === "" || repository === prefix || repository.startsWith(`${prefix}/`);
}
