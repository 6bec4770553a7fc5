/**
 * Non-secret name/value pairs that a ciphertext is bound to, like an AWS KMS encryption context.
 * The server binds every credential to its row with `{ workspace_id, registry_id }`; decrypting
 * with any other context fails with `authentication_failed`.
 *
 * Nothing secret belongs here: the context is authenticated, not encrypted.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/** Sorted, validated `[name, value]` pairs. */
export type CanonicalContext = readonly (readonly [string, string])[];

/**
 * Validates a context and sorts its entries by name (UTF-16 code unit order, locale-free).
 *
 * @throws TypeError if the context is not an object, is empty, or has an empty name or a value
 *   that is not a non-empty string. Messages name the entry, never the value.
 */
export function canonicalizeContext(context: EncryptionContext): CanonicalContext {
  if (typeof context !== "object" || context === null || Array.isArray(context)) {
    throw new TypeError("Encryption context must be an object of string values.");
  }
  const names = Object.keys(context);
  if (names.length === 0) {
    throw new TypeError("Encryption context must not be empty; bind the ciphertext to its row.");
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => {
    if (name === "") throw new TypeError("Encryption context names must not be empty.");
    const value: unknown = context[name];
    if (typeof value !== "string" || value === "") {
      throw new TypeError(`Encryption context value "${name}" must be a non-empty string.`);
    }
    return [name, value] as const;
  });
}

/**
 * The GCM associated data: a JSON array of a domain label, the envelope version, the key id and
 * the sorted context entries. JSON makes the encoding unambiguous (no separator can be forged
 * inside a value).
 */
export function associatedData(version: string, keyId: string, context: CanonicalContext): Buffer {
  return Buffer.from(JSON.stringify(["modbox/crypto", version, keyId, context]), "utf8");
}

/**
 * The context part of {@link associatedData}'s JSON (`["name","value"],…`, sorted by name),
 * built entry by entry instead of through a nested array. Same validation and errors as
 * {@link canonicalizeContext}.
 */
export function contextAadText(context: EncryptionContext): string {
  if (typeof context !== "object" || context === null || Array.isArray(context)) {
    throw new TypeError("Encryption context must be an object of string values.");
  }
  const names = Object.keys(context);
  if (names.length === 0) {
    throw new TypeError("Encryption context must not be empty; bind the ciphertext to its row.");
  }
  if (names.length === 2) {
    // The server's contexts have two entries: one comparison instead of a sort with a callback.
    if (names[0]! > names[1]!) names.reverse();
  } else if (names.length > 2) {
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  let text = "";
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === "") throw new TypeError("Encryption context names must not be empty.");
    const value: unknown = context[name];
    if (typeof value !== "string" || value === "") {
      throw new TypeError(`Encryption context value "${name}" must be a non-empty string.`);
    }
    const entry = `[${jsonName(name)},${JSON.stringify(value)}]`;
    text = i === 0 ? entry : `${text},${entry}`;
  }
  return text;
}

/** Context names are a handful of constants (`workspace_id`, …): encode each once. */
const NAME_JSON_MAX = 256;
const nameJson = new Map<string, string>();

function jsonName(name: string): string {
  let json = nameJson.get(name);
  if (json === undefined) {
    json = JSON.stringify(name);
    if (nameJson.size < NAME_JSON_MAX) nameJson.set(name, json);
  }
  return json;
}

/** `["modbox/crypto","<version>","<keyId>",[`: the start of a key's AAD, the same for every row. */
export function associatedDataPrefix(version: string, keyId: string): string {
  return `${JSON.stringify(["modbox/crypto", version, keyId]).slice(0, -1)},[`;
}

/**
 * The same bytes as `associatedData(version, keyId, canonicalizeContext(context))`, from a prefix
 * built once per key by {@link associatedDataPrefix} and the context text of {@link contextAadText}.
 */
export function associatedDataFrom(prefix: string, contextText: string): Buffer {
  return Buffer.from(`${prefix}${contextText}]]`, "utf8");
}
