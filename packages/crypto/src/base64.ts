// Strict base64 decoding. Node's decoder silently skips characters outside the alphabet and
// accepts non-canonical trailing bits; these helpers only accept input that re-encodes to itself.

const BASE64URL_ALPHABET = /^[A-Za-z0-9_-]*$/;
const BASE64_ALPHABET = /^[A-Za-z0-9+/]*$/;

/** The 6-bit value of each base64url character (indexed by char code); -1 outside the alphabet. */
// Stryker disable next-line UnaryOperator: the fill value is never read: only characters that passed the alphabet test are looked up, and each was set below
const BASE64URL_VALUE = new Int8Array(128).fill(-1);
for (const [i, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"].entries()) {
  BASE64URL_VALUE[c.charCodeAt(0)] = i;
}

/**
 * Decodes unpadded base64url; `undefined` unless the input is canonical.
 *
 * Canonical = only alphabet characters, a length that is not 1 mod 4, and no bits set in the
 * last character beyond the data (4 unused bits when the length is 2 mod 4, 2 when it is 3 mod 4).
 * For such input Node's decoder is exact, so the bytes re-encode to the same text, which is what
 * an earlier version checked by re-encoding.
 */
export function decodeBase64UrlStrict(text: string): Buffer | undefined {
  const rest = text.length % 4;
  if (rest === 1 || !BASE64URL_ALPHABET.test(text)) return undefined;
  if (rest !== 0) {
    const last = BASE64URL_VALUE[text.charCodeAt(text.length - 1)]!;
    if ((last & (rest === 2 ? 0b1111 : 0b11)) !== 0) return undefined;
  }
  return Buffer.from(text, "base64url");
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
