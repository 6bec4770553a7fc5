import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatKeyringSpec, generateKey, parseKeyringSpec, type Keyring, type KeyringKey } from "@modbox/crypto";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { EncryptionKeyRepository } from "../db/repositories/encryption-keys.js";
import { KeyCustodyError } from "../services/key-custody.js";

export const GENERATED_KEY_FILE = "encryption-keys";

/** Where the keys come from, as messages name it. */
export function keySource(config: Config): string {
  return config.encryption.keysSpec
    ? "MODBOX_ENCRYPTION_KEYS"
    : `the data directory's key file ${join(config.dataDir, GENERATED_KEY_FILE)}`;
}

/**
 * The configured keyring, without generating anything: MODBOX_ENCRYPTION_KEYS, else (embedded
 * default) the key file in the data directory; undefined when neither exists.
 */
export async function readKeyring(config: Config): Promise<Keyring | undefined> {
  const { keysSpec, activeKeyId } = config.encryption;
  if (keysSpec) return parseKeyringSpec(keysSpec, activeKeyId);
  const spec = await readKeyFile(config);
  return spec === undefined ? undefined : parseKeyringSpec(spec);
}

/**
 * The keyring for the server. For the embedded default only, a first key is generated into the
 * data directory (mode 0600), and only into a database that holds nothing sealed: a missing key
 * file beside stored passwords is a lost key, and a new key would silently leave every one of
 * them undecryptable. `loadConfig` already refused PostgreSQL without keys.
 */
export async function resolveKeyring(
  config: Config,
  logger: Logger,
  keys: Pick<EncryptionKeyRepository, "sealedCounts" | "list">,
): Promise<Keyring> {
  const configured = await readKeyring(config);
  if (configured) {
    if (!config.encryption.keysSpec) logger.info({ file: keyFile(config) }, "using the encryption key file in the data directory");
    return configured;
  }

  const sealed = await keys.sealedCounts();
  const recorded = (await keys.list()).filter((k) => !k.retiredAt).map((k) => k.keyId);
  const needed = [...new Set([...sealed.keys(), ...recorded])].sort();
  if (needed.length > 0) {
    const total = [...sealed.values()].reduce((a, b) => a + b, 0);
    throw new KeyCustodyError(
      [
        `Refusing to start: the key file ${keyFile(config)} is missing, but the database holds ${total} password(s) ` +
          `sealed by key(s) ${needed.map((id) => `"${id}" (${sealed.get(id) ?? 0})`).join(", ")}.`,
        "A new key could not decrypt them, so none was generated and nothing was written.",
        "Restore the key file from your backup (or set MODBOX_ENCRYPTION_KEYS) and start again.",
      ].join("\n"),
    );
  }
  const key = generateKey();
  await writeFile(keyFile(config), `${formatKeyringSpec([key])}\n`, { mode: 0o600, flag: "wx" });
  logger.warn(
    { file: keyFile(config), keyId: key.id },
    "MODBOX_ENCRYPTION_KEYS is not set: generated an encryption key into the data directory. " +
      "Back it up: without it stored passwords cannot be decrypted.",
  );
  return parseKeyringSpec(formatKeyringSpec([key]));
}

/**
 * Embedded default: puts a new key first in the data directory's key file (so it becomes the
 * active key at the next start), keeping the others for decryption. Written to a temporary file
 * and renamed, so a crash leaves the old file or the new one, never half of one.
 */
export async function addKeyToFile(config: Config): Promise<KeyringKey> {
  const spec = await readKeyFile(config);
  if (spec === undefined) throw new Error(`There is no key file at ${keyFile(config)}.`);
  parseKeyringSpec(spec); // refuses a damaged file before it is rewritten
  const key = generateKey();
  await replaceKeyFile(config, `${formatKeyringSpec([key])},${spec}`);
  return key;
}

/**
 * Embedded default: drops a retired key from the data directory's key file (never the active
 * one, which is first). Same write-then-rename as {@link addKeyToFile}.
 */
export async function removeKeyFromFile(config: Config, keyId: string): Promise<boolean> {
  const spec = await readKeyFile(config);
  if (spec === undefined) return false;
  const entries = spec.split(",").map((e) => e.trim());
  const kept = entries.filter((e, i) => i === 0 || e.split(":")[0]!.trim() !== keyId);
  if (kept.length === entries.length) return false;
  parseKeyringSpec(kept.join(",")); // never write a file the server would refuse
  await replaceKeyFile(config, kept.join(","));
  return true;
}

async function replaceKeyFile(config: Config, spec: string): Promise<void> {
  const file = keyFile(config);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${spec}\n`, { mode: 0o600, flag: "wx" });
  await rename(temporary, file);
}

function keyFile(config: Config): string {
  return join(config.dataDir, GENERATED_KEY_FILE);
}

async function readKeyFile(config: Config): Promise<string | undefined> {
  const text = await readFile(keyFile(config), "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  return text?.trim();
}
