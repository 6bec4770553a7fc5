import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { decodeBase64Strict } from "./base64.js";
import { KEY_ID_PATTERN } from "./envelope.js";
import { KeyringConfigError } from "./errors.js";

/** AES-256 key length in bytes. Every key in a keyring is exactly this long. */
export const KEY_LENGTH = 32;

/** A key and its id, as passed to {@link createKeyring} or returned by {@link generateKey}. */
export interface KeyringKey {
  readonly id: string;
  readonly key: Uint8Array;
}

/**
 * A validated, immutable set of keys: one active key for encryption, the others decrypt-only.
 *
 * The object only exposes key ids; the key material is held privately (as `KeyObject`s) and is
 * reachable only by {@link createCipher}, so logging a keyring is safe.
 */
export interface Keyring {
  /** The id of the key used for every new encryption. */
  readonly activeKeyId: string;
  /** Every key id, in configuration order (the active key included). */
  readonly keyIds: readonly string[];
}

/** Options for {@link createKeyring}. */
export interface CreateKeyringOptions {
  readonly keys: readonly KeyringKey[];
  readonly activeKeyId: string;
}

interface Entry {
  /** How messages name the entry, e.g. `entry 2` or `keys[1]`; never its content. */
  readonly label: string;
  readonly id: string;
  readonly key: unknown;
}

const secretKeys = new WeakMap<Keyring, ReadonlyMap<string, KeyObject>>();

/**
 * Builds a keyring from keys given as bytes.
 *
 * @throws KeyringConfigError if there are no keys, an id does not match `^[A-Za-z0-9_-]{1,64}$`,
 *   a key is not exactly 32 bytes, an id repeats, or `activeKeyId` is not one of the ids.
 *
 * @example
 * ```ts
 * const keyring = createKeyring({
 *   keys: [
 *     { id: "k2025b", key: newKeyBytes }, // active: new encryptions
 *     { id: "k2025a", key: oldKeyBytes }, // decrypt-only until rows are re-encrypted
 *   ],
 *   activeKeyId: "k2025b",
 * });
 * ```
 */
export function createKeyring(options: CreateKeyringOptions): Keyring {
  const keys: unknown = options?.keys;
  if (!Array.isArray(keys)) throw new KeyringConfigError("keys must be an array of { id, key }.");
  const entries = keys.map((item: unknown, index): Entry => {
    const label = `keys[${index}]`;
    if (typeof item !== "object" || item === null) {
      throw new KeyringConfigError(`${label} must be an object { id, key }.`);
    }
    const { id, key } = item as { id?: unknown; key?: unknown };
    return { label, id: checkId(id, label), key };
  });
  return buildKeyring(entries, options.activeKeyId);
}

/**
 * Parses the server's keyring configuration string: a comma-separated list of
 * `<keyId>:<base64 key>` entries. Keys are standard base64 or base64url (one alphabet, padding
 * optional but exact) and must decode to exactly 32 bytes. Whitespace around entries, ids and
 * keys is ignored. The active key defaults to the first entry.
 *
 * @param spec - e.g. `"k2025b:<base64>,k2025a:<base64>"`.
 * @param activeKeyId - the id to encrypt with; defaults to the first entry's id.
 * @throws KeyringConfigError on an empty spec, a malformed entry, an invalid id, invalid base64,
 *   a key that is not 32 bytes, a duplicate id or an unknown active id. The message names the
 *   entry by position and id and never contains key material.
 *
 * @example
 * ```ts
 * // config.ts — the only place that reads the environment
 * const keyring = parseKeyringSpec(env.MODBOX_ENCRYPTION_KEYS, env.MODBOX_ACTIVE_KEY_ID);
 * keyring.activeKeyId; // "k2025b"
 * keyring.keyIds;      // ["k2025b", "k2025a"]
 * ```
 */
export function parseKeyringSpec(spec: string, activeKeyId?: string): Keyring {
  if (typeof spec !== "string") throw new KeyringConfigError("Keyring spec must be a string.");
  if (spec.trim() === "") {
    throw new KeyringConfigError("Keyring spec is empty; expected <keyId>:<base64 key>[,...].");
  }
  const decoded: Buffer[] = [];
  try {
    const entries = spec.split(",").map((raw, index): Entry => {
      const label = `entry ${index + 1}`;
      const entry = raw.trim();
      if (entry === "") throw new KeyringConfigError(`Keyring spec ${label} is empty.`);
      const colon = entry.indexOf(":");
      if (colon === -1) {
        throw new KeyringConfigError(
          `Keyring spec ${label} is not of the form <keyId>:<base64 key>.`,
        );
      }
      const id = checkId(entry.slice(0, colon).trim(), `Keyring spec ${label}`);
      const name = `Keyring spec ${label} ("${id}")`;
      const text = entry.slice(colon + 1).trim();
      if (text === "") throw new KeyringConfigError(`${name} has no key after ":".`);
      const key = decodeBase64Strict(text);
      if (key === undefined) {
        throw new KeyringConfigError(
          `${name} is not valid base64 (standard or base64url, one alphabet, exact padding).`,
        );
      }
      decoded.push(key);
      return { label: `Keyring spec ${label}`, id, key };
    });
    return buildKeyring(entries, activeKeyId === undefined ? entries[0]?.id : activeKeyId);
  } finally {
    // The key bytes now live in KeyObjects; do not leave extra copies around.
    for (const key of decoded) key.fill(0);
  }
}

/**
 * Serialises keys into the format {@link parseKeyringSpec} reads (standard base64 with
 * padding). The first key becomes the default active key when parsed back.
 *
 * The result contains key material: write it only to a secret store or a file with mode 0600.
 *
 * @throws KeyringConfigError on the same rules as {@link createKeyring}.
 *
 * @example
 * ```ts
 * const spec = formatKeyringSpec([generateKey()]);
 * await writeFile(".modbox/encryption-keys", spec, { mode: 0o600 });
 * ```
 */
export function formatKeyringSpec(keys: readonly KeyringKey[]): string {
  // Stryker disable next-line StringLiteral: the fallback id is only used with no keys or a first key without an id, which createKeyring rejects before it looks at the active id
  createKeyring({ keys, activeKeyId: keys[0]?.id ?? "" }); // validates every rule
  return keys.map(({ id, key }) => `${id}:${Buffer.from(key).toString("base64")}`).join(",");
}

/** Options for {@link generateKey}. */
export interface GenerateKeyOptions {
  /** The date that goes into the id (UTC); defaults to now. */
  readonly now?: Date;
}

/**
 * Generates a random 32-byte key with an id like `k20250114-9f3a0c1d`
 * (`k`, the UTC date, a random suffix), which sorts by creation day.
 *
 * @example
 * ```ts
 * const { id, key } = generateKey();
 * const keyring = createKeyring({ keys: [{ id, key }], activeKeyId: id });
 * ```
 */
export function generateKey(options: GenerateKeyOptions = {}): KeyringKey {
  const day = (options.now ?? new Date()).toISOString().slice(0, 10).replaceAll("-", "");
  return { id: `k${day}-${randomBytes(4).toString("hex")}`, key: randomBytes(KEY_LENGTH) };
}

/** @internal The key for an id, for the cipher only. Not exported from the package. */
export function keyFor(keyring: Keyring, keyId: string): KeyObject | undefined {
  return secretKeys.get(keyring)?.get(keyId);
}

/** @internal Whether a value was built by this module (not a look-alike object). */
export function isKeyring(value: unknown): value is Keyring {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: WeakMap.has returns false for null and every non-object, so the guards only short-cut
  return typeof value === "object" && value !== null && secretKeys.has(value as Keyring);
}

function checkId(id: unknown, label: string): string {
  // An invalid id is not echoed: a misplaced key could be sitting where the id should be.
  if (typeof id !== "string" || !KEY_ID_PATTERN.test(id)) {
    throw new KeyringConfigError(
      `${label} has an invalid key id (expected 1-64 characters of A-Z a-z 0-9 _ -).`,
    );
  }
  return id;
}

function buildKeyring(entries: readonly Entry[], activeKeyId: unknown): Keyring {
  if (entries.length === 0) throw new KeyringConfigError("Keyring has no keys.");
  const keys = new Map<string, KeyObject>();
  const labels = new Map<string, string>();
  for (const { label, id, key } of entries) {
    const name = `${label} ("${id}")`;
    if (!(key instanceof Uint8Array)) throw new KeyringConfigError(`${name} key must be bytes.`);
    if (key.length !== KEY_LENGTH) {
      throw new KeyringConfigError(
        `${name} key is ${key.length} bytes; expected exactly ${KEY_LENGTH}.`,
      );
    }
    const first = labels.get(id);
    if (first !== undefined) {
      throw new KeyringConfigError(`${name} repeats the key id of ${first}.`);
    }
    labels.set(id, label);
    keys.set(id, createSecretKey(key)); // copies the bytes
  }
  if (typeof activeKeyId !== "string" || !KEY_ID_PATTERN.test(activeKeyId)) {
    throw new KeyringConfigError(
      "Active key id is not a valid key id (expected 1-64 characters of A-Z a-z 0-9 _ -).",
    );
  }
  if (!keys.has(activeKeyId)) {
    throw new KeyringConfigError(
      `Active key id "${activeKeyId}" is not in the keyring (known: ${[...keys.keys()].join(", ")}).`,
    );
  }
  const keyring: Keyring = Object.freeze({
    activeKeyId,
    keyIds: Object.freeze([...keys.keys()]),
  });
  secretKeys.set(keyring, keys);
  return keyring;
}
