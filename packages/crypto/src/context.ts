/**
 * Non-secret name/value pairs that a ciphertext is bound to, like an AWS KMS encryption context.
 * The server binds every credential to its row with `{ workspace_id, registry_id }`; decrypting
 * with any other context fails with `authentication_failed`.
 *
 * Nothing secret belongs here: the context is authenticated, not encrypted.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * The GCM associated data is the UTF-8 JSON text of
 *
 *   ["modbox/crypto", "<version>", "<keyId>", [["<name>", "<value>"], …]]
 *
 * a domain label, the envelope version, the key id and the context entries sorted by name
 * (UTF-16 code unit order, locale-free). JSON makes the encoding unambiguous: no separator can
 * be forged inside a value. These bytes are part of every stored ciphertext: they must never
 * change.
 *
 * It is built in two parts, because the cipher seals with one key many rows: the start, the same
 * for every row of a key ({@link associatedDataPrefix}, built once per key), and the context
 * entries ({@link contextAadText}, per call), joined by {@link associatedDataFrom}.
 */

/**
 * The context entries of the associated data (`["name","value"],…`, sorted by name), built
 * entry by entry instead of through a nested array and `JSON.stringify` of the whole.
 *
 * @throws TypeError if the context is not an object, is empty, or has an empty name or a value
 *   that is not a non-empty string. Messages name the entry, never the value.
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
    // Stryker disable next-line EqualityOperator: the two names are distinct object keys, so they are never equal
    if (names[0]! > names[1]!) names.reverse();
  } else if (
    // Stryker disable next-line ConditionalExpression,EqualityOperator: reached with 1 or 3+ names; sorting a single name is a no-op
    names.length > 2
  ) {
    // Stryker disable next-line EqualityOperator,ConditionalExpression: names are distinct (no ties) and V8's sort only tests compare() < 0, so 1 vs 0 is unobservable
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  // Stryker disable next-line StringLiteral: overwritten at i === 0, and there is always at least one name
  let text = "";
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === "") throw new TypeError("Encryption context names must not be empty.");
    const value: unknown = context[name];
    if (typeof value !== "string" || value === "") {
      throw new TypeError(`Encryption context value "${name}" must be a non-empty string.`);
    }
    const entry = `[${jsonString(name)},${jsonString(value)}]`;
    text = i === 0 ? entry : `${text},${entry}`;
  }
  return text;
}

/** Printable ASCII but `"` and `\\`: characters JSON writes as they are, between quotes. */
// Stryker disable next-line Regex: a shortcut only; JSON.stringify gives the same text for every string it stops matching
const JSON_AS_IS = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * `JSON.stringify(text)`, without calling it for the usual context (ASCII names and ids): on the
 * cipher's hot path it cost about twice as much as this test, once per name and value of every
 * encryption and decryption.
 */
function jsonString(text: string): string {
  return JSON_AS_IS.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** `["modbox/crypto","<version>","<keyId>",[`: the start of a key's AAD, the same for every row. */
export function associatedDataPrefix(version: string, keyId: string): string {
  return `${JSON.stringify(["modbox/crypto", version, keyId]).slice(0, -1)},[`;
}

/** The associated data: a key's prefix ({@link associatedDataPrefix}) and a context's entries ({@link contextAadText}). */
export function associatedDataFrom(prefix: string, contextText: string): Buffer {
  return Buffer.from(`${prefix}${contextText}]]`, "utf8");
}
