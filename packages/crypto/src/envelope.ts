import { decodeBase64UrlStrict } from "./base64.js";
import { DecryptionError } from "./errors.js";

/** The envelope version written by this package. */
export const ENVELOPE_VERSION = "v1";
/** GCM IV length in bytes (the 96-bit IV NIST SP 800-38D recommends). */
export const IV_LENGTH = 12;
/** GCM authentication tag length in bytes. */
export const TAG_LENGTH = 16;
/** Key ids: 1–64 characters of `A–Z a–z 0–9 _ -` (no `:`, so they fit in the envelope). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const VERSION_TAG = /^v[0-9]{1,6}$/;

/** The parts of a `v1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>` string. */
export interface Envelope {
  readonly version: typeof ENVELOPE_VERSION;
  readonly keyId: string;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** Serialises an envelope as `v1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>` (no padding). */
export function formatEnvelope(envelope: Omit<Envelope, "version">): string {
  const payload = Buffer.concat([envelope.iv, envelope.ciphertext, envelope.tag]);
  return `${ENVELOPE_VERSION}:${envelope.keyId}:${payload.toString("base64url")}`;
}

/**
 * Parses an envelope without decrypting it.
 *
 * @throws DecryptionError `unsupported_version` for a version tag other than `v1`, `malformed`
 *   for anything else that is not a well-formed v1 envelope.
 */
export function parseEnvelope(text: unknown): Envelope {
  if (typeof text !== "string") throw new DecryptionError("malformed");
  const firstColon = text.indexOf(":");
  const version = firstColon === -1 ? text : text.slice(0, firstColon);
  if (version !== ENVELOPE_VERSION) {
    throw new DecryptionError(VERSION_TAG.test(version) ? "unsupported_version" : "malformed");
  }
  // Exactly two more fields: `<keyId>:<payload>`, no third colon.
  // Stryker disable next-line ConditionalExpression,UnaryOperator: firstColon is -1 only for the text "v1", which every variant of this line still rejects as malformed
  const secondColon = firstColon === -1 ? -1 : text.indexOf(":", firstColon + 1);
  // Stryker disable next-line ConditionalExpression,LogicalOperator,UnaryOperator,BlockStatement: without this check a missing or extra colon ends up in the payload, which the strict base64url decoding rejects as malformed too
  if (secondColon === -1 || text.indexOf(":", secondColon + 1) !== -1) {
    throw new DecryptionError("malformed");
  }
  const keyId = text.slice(firstColon + 1, secondColon);
  if (!KEY_ID_PATTERN.test(keyId)) throw new DecryptionError("malformed");
  const payload = decodeBase64UrlStrict(text.slice(secondColon + 1));
  if (payload === undefined || payload.length < IV_LENGTH + TAG_LENGTH) {
    throw new DecryptionError("malformed");
  }
  return {
    version: ENVELOPE_VERSION,
    keyId,
    iv: payload.subarray(0, IV_LENGTH),
    ciphertext: payload.subarray(IV_LENGTH, payload.length - TAG_LENGTH),
    tag: payload.subarray(payload.length - TAG_LENGTH),
  };
}
