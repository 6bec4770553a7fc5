/**
 * The folders a package's mutation score is reported by, read from its stryker.config.json
 * `mutate` globs so that the scope is written once: `src/auth/**\/*.ts` is the folder
 * `server/auth`; a package-wide `src/**\/*.ts` is the package itself. Negated globs (the tests)
 * name no folder.
 */
export function scopesFromMutateGlobs(packageName: string, globs: readonly string[]): { name: string; prefix: string }[] {
  return globs
    .filter((glob) => !glob.startsWith("!"))
    .map((glob) => {
      const prefix = glob.slice(0, glob.indexOf("**"));
      if (!prefix.startsWith("src/") || !prefix.endsWith("/")) throw new Error(`mutate glob ${glob} is not of the form src/<folder>/**`);
      const folder = prefix.slice("src/".length, -1);
      return { name: folder === "" ? packageName : `${packageName}/${folder}`, prefix };
    });
}
