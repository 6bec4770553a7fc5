// Strict base64 decoding. Node's decoder silently skips characters outside the alphabet and
// accepts non-canonical trailing bits; these helpers only accept input that re-encodes to itself.

const BASE64URL_ALPHABET = /^[A-Za-z0-9_-]*$/;
const BASE64_ALPHABET = /^[A-Za-z0-9+/]*$/;

/** Decodes unpadded base64url; `undefined` unless the input is canonical. */
export function decodeBase64UrlStrict(text: string): Buffer | undefined {
  if (!BASE64URL_ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : undefined;
}

/**
 * Decodes standard base64 or base64url (one alphabet, not a mix), with exact padding or none;
 * `undefined` unless the input is canonical.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const unpadded = text.replace(/={1,2}$/, "");
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined;
  if (BASE64URL_ALPHABET.test(unpadded)) return decodeBase64UrlStrict(unpadded);
  if (BASE64_ALPHABET.test(unpadded)) {
    return decodeBase64UrlStrict(unpadded.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return undefined;
}
