/**
 * `<NAME>_FILE`: a secret setting read from a file, the convention of Docker and Kubernetes
 * secrets (compose mounts them at /run/secrets/<name>). Keeps the database password, the
 * encryption keys and the bootstrap token out of the environment, where `docker inspect`, `ps e`
 * and crash reports would show them.
 *
 * The file's content is the value, with surrounding whitespace trimmed (an editor's or `echo`'s
 * final newline is not part of a key). Setting both NAME and NAME_FILE is refused, as is a file
 * that cannot be read or is empty. Errors name the variable and the path, never the content.
 */
import { readFileSync } from "node:fs";

/** The settings that may come from a file: the secrets, and only those. */
export const SECRET_SETTINGS = ["DATABASE_URL", "MODBOX_ENCRYPTION_KEYS", "MODBOX_BOOTSTRAP_TOKEN"] as const;
export type SecretSetting = (typeof SECRET_SETTINGS)[number];

export type SecretFilesResult = { ok: true; env: NodeJS.ProcessEnv } | { ok: false; errors: string[] };

/** `env` with each `<NAME>_FILE` of `names` read into `<NAME>`, or every problem found. */
export function readSecretFiles(env: NodeJS.ProcessEnv, names: readonly SecretSetting[] = SECRET_SETTINGS): SecretFilesResult {
  const resolved: NodeJS.ProcessEnv = { ...env };
  const errors: string[] = [];
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === "") continue;
    if (env[name] !== undefined && env[name] !== "") {
      errors.push(`${name}_FILE: ${name} is set too; set one of them`);
      continue;
    }
    let content: string;
    try {
      content = readFileSync(path, "utf8").trim();
    } catch (err) {
      errors.push(`${name}_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
      continue;
    }
    if (content === "") errors.push(`${name}_FILE: ${path} is empty`);
    else resolved[name] = content;
    delete resolved[`${name}_FILE`];
  }
  return errors.length === 0 ? { ok: true, env: resolved } : { ok: false, errors };
}
