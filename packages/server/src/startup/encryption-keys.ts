import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatKeyringSpec, generateKey, parseKeyringSpec, type Keyring } from "@modbox/crypto";
import type { Logger } from "pino";
import type { Config } from "../config.js";

export const GENERATED_KEY_FILE = "encryption-keys";

/**
 * The keyring from MODBOX_ENCRYPTION_KEYS; for the embedded default only, a key generated once
 * into the data directory (mode 0600). `loadConfig` already refused PostgreSQL without keys.
 */
export async function resolveKeyring(config: Config, logger: Logger): Promise<Keyring> {
  const { keysSpec, activeKeyId } = config.encryption;
  if (keysSpec) return parseKeyringSpec(keysSpec, activeKeyId);

  const file = join(config.dataDir, GENERATED_KEY_FILE);
  const existing = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (existing !== undefined) {
    logger.info({ file }, "using the encryption key generated earlier in the data directory");
    return parseKeyringSpec(existing.trim());
  }
  const key = generateKey();
  await writeFile(file, `${formatKeyringSpec([key])}\n`, { mode: 0o600, flag: "wx" });
  logger.warn(
    { file, keyId: key.id },
    "MODBOX_ENCRYPTION_KEYS is not set: generated an encryption key into the data directory. " +
      "Back it up: without it stored passwords cannot be decrypted.",
  );
  return parseKeyringSpec(formatKeyringSpec([key]));
}
