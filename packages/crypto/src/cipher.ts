import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import {
  associatedDataFrom,
  associatedDataPrefix,
  contextAadText,
  type EncryptionContext,
} from "./context.js";
import {
  ENVELOPE_VERSION,
  IV_LENGTH,
  TAG_LENGTH,
  formatEnvelope,
  parseEnvelope,
} from "./envelope.js";
import { DecryptionError, KeyringConfigError } from "./errors.js";
import { isKeyring, keyFor, type Keyring } from "./keyring.js";

const ALGORITHM = "aes-256-gcm";

/**
 * NIST SP 800-38D: at most 2^32 encryptions with random 96-bit IVs under one key. Rotate the
 * active key well before a key gets near it.
 */
export const MAX_ENCRYPTIONS_PER_KEY = 2 ** 32;

/** Default count at which {@link CipherOptions.onNonceBudgetWarning} fires: half the budget. */
export const DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD = 2 ** 31;

/**
 * HKDF "info" of a key check value: a label no other use of the key shares, versioned so the
 * derivation can change without two meanings for one stored value.
 */
const KEY_CHECK_INFO = "modbox/crypto key check value v1";
/**
 * HKDF label of the key that fingerprints data (HMAC-SHA256). Its own label, so a fingerprint
 * never equals a key check value or anything else derived from the same key.
 */
const FINGERPRINT_INFO = "modbox/crypto fingerprint v1";
/** Bytes of a key check value: enough that two different keys never collide by chance. */
const KEY_CHECK_LENGTH = 16;

/** Options for {@link createCipher}. */
export interface CipherOptions {
  /**
   * Called once per key, synchronously, when this process's encryption count for the key
   * reaches {@link CipherOptions.nonceBudgetWarningThreshold}. Meant for a log line that asks
   * for a rotation. Errors thrown by the callback are ignored (the encryption still succeeds).
   */
  readonly onNonceBudgetWarning?: (keyId: string, count: number) => void;
  /**
   * Count at which the warning fires; an integer from 1 to {@link MAX_ENCRYPTIONS_PER_KEY}.
   * Defaults to {@link DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD}.
   */
  readonly nonceBudgetWarningThreshold?: number;
}

/** Encrypt/decrypt closures over one keyring. Build it once at start-up and inject it. */
export interface Cipher {
  /** The key id new encryptions use. */
  readonly activeKeyId: string;
  /** Every key id of the keyring, in configuration order (the active key included). */
  readonly keyIds: readonly string[];
  /**
   * Encrypts a string with the active key, bound to `context`.
   * @returns `v1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`.
   * @throws TypeError if the plaintext is not a well-formed string or the context is invalid.
   */
  readonly encrypt: (plaintext: string, context: EncryptionContext) => string;
  /**
   * Decrypts with the key named in the envelope (keys are never tried in turn). The context
   * must equal the one used to encrypt.
   * @throws DecryptionError on any failure; TypeError if the context is invalid.
   */
  readonly decrypt: (ciphertext: string, context: EncryptionContext) => string;
  /**
   * The key id in an envelope, without decrypting (e.g. for the rotation's compare-and-set).
   * @throws DecryptionError `malformed` or `unsupported_version`.
   */
  readonly keyIdOf: (ciphertext: string) => string;
  /**
   * Whether an envelope is on the active key; rows where it is `false` need re-encryption.
   * @throws DecryptionError `malformed` or `unsupported_version`.
   */
  readonly isOnActiveKey: (ciphertext: string) => boolean;
  /**
   * Encrypts and decrypts a random value with every key in the ring and checks that a wrong
   * context is rejected. Run it at start-up. Its encryptions are counted.
   * @throws KeyringConfigError naming the first key that fails.
   */
  readonly selfTest: () => void;
  /**
   * The key check value of a key: a one-way fingerprint (HKDF-SHA256 of the key with a fixed
   * label, base64url), the same for the same key bytes everywhere, different for any other key.
   * Stored beside the data a key seals, it proves at start-up that the configured key is the one
   * that sealed it, without decrypting anything and without revealing the key.
   * @throws Error if the key id is not in the keyring.
   */
  readonly keyCheckValue: (keyId: string) => string;
  /**
   * Encryptions done by this process, per key id (every key listed, unused ones at 0). A lower
   * bound on a key's real use: other processes and earlier runs encrypt too.
   */
  readonly encryptionCounts: () => Record<string, number>;
  /**
   * A keyed fingerprint of `data` (HMAC-SHA256 with a key derived from the active key):
   * `<keyId>:<base64url>`. For telling whether two requests were the same without storing a
   * plain hash that a low-entropy secret inside them (a password) could be guessed from.
   */
  readonly fingerprint: (data: string) => string;
  /**
   * Whether `data` has this fingerprint, recomputed with the key it names (so fingerprints
   * made before a key rotation still match). False for a key not in the keyring or a
   * malformed fingerprint; compared in constant time.
   */
  readonly matchesFingerprint: (fingerprint: string, data: string) => boolean;
}

/**
 * Builds the cipher for a keyring: AES-256-GCM, 12-byte random IV, 16-byte tag, with the
 * version, key id and encryption context as associated data.
 *
 * @throws TypeError if `keyring` was not built by {@link createKeyring} or
 *   {@link parseKeyringSpec}; RangeError on an invalid warning threshold.
 *
 * @example
 * ```ts
 * const cipher = createCipher(keyring, {
 *   onNonceBudgetWarning: (keyId, count) =>
 *     log.warn({ keyId, count }, "encryption key nears its nonce budget; rotate it"),
 * });
 * cipher.selfTest();
 *
 * const context = { workspace_id: workspace.id, registry_id: registry.id };
 * const stored = cipher.encrypt(password, context); // "v1:k2025b:…"
 * cipher.decrypt(stored, context) === password;     // true
 * cipher.decrypt(stored, { ...context, workspace_id: other.id }); // throws DecryptionError
 * ```
 */
export function createCipher(keyring: Keyring, options: CipherOptions = {}): Cipher {
  if (!isKeyring(keyring)) {
    throw new TypeError("createCipher needs a keyring from createKeyring or parseKeyringSpec.");
  }
  const threshold = options.nonceBudgetWarningThreshold ?? DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD;
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_ENCRYPTIONS_PER_KEY) {
    throw new RangeError(
      `nonceBudgetWarningThreshold must be an integer from 1 to ${MAX_ENCRYPTIONS_PER_KEY}.`,
    );
  }
  const onWarning = options.onNonceBudgetWarning;
  const counts = new Map<string, number>(keyring.keyIds.map((id) => [id, 0]));
  // Per key, built once: its secret and the start of its AAD, which is the same for every row
  // (`["modbox/crypto","v1","<keyId>",[`). A keyring is frozen, so this never goes stale; an
  // envelope naming a key not in it fails as unknown_key before any AAD is built.
  const slots = new Map<string, { key: KeyObject; aadPrefix: string }>();
  for (const id of keyring.keyIds) {
    const key = keyFor(keyring, id);
    if (key !== undefined) slots.set(id, { key, aadPrefix: associatedDataPrefix(ENVELOPE_VERSION, id) });
  }

  function encryptWith(keyId: string, plaintext: string, context: EncryptionContext): string {
    if (typeof plaintext !== "string") throw new TypeError("Plaintext must be a string.");
    // A lone surrogate would be silently replaced by U+FFFD when encoded: refuse instead.
    if (/[\uD800-\uDFFF]/u.test(plaintext)) {
      throw new TypeError("Plaintext is not well-formed Unicode (lone surrogate).");
    }
    const contextText = contextAadText(context);
    const slot = slots.get(keyId);
    if (slot === undefined) throw new Error(`Key "${keyId}" is missing from the keyring.`);
    const { key } = slot;
    const aad = associatedDataFrom(slot.aadPrefix, contextText);
    const iv = randomBytes(IV_LENGTH);
    // Stryker disable next-line ObjectLiteral: 16 bytes is already the GCM default tag length when encrypting
    const gcm = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_LENGTH });
    gcm.setAAD(aad);
    const ciphertext = gcm.update(plaintext, "utf8");
    gcm.final(); // GCM is a stream mode: final() computes the tag and returns no bytes.
    const result = formatEnvelope({ keyId, iv, ciphertext, tag: gcm.getAuthTag() });
    count(keyId);
    return result;
  }

  function count(keyId: string): void {
    const next = (counts.get(keyId) ?? 0) + 1;
    counts.set(keyId, next);
    if (next === threshold && onWarning !== undefined) {
      try {
        onWarning(keyId, next);
      } catch {
        // A failing log hook must not lose a ciphertext that was already produced.
      }
    }
  }

  const encrypt = (plaintext: string, context: EncryptionContext): string =>
    encryptWith(keyring.activeKeyId, plaintext, context);

  const decrypt = (ciphertext: string, context: EncryptionContext): string => {
    // Built (and validated) before the envelope is parsed: an invalid context is a TypeError
    // whatever the ciphertext. The envelope's key id passed KEY_ID_PATTERN.
    const contextText = contextAadText(context);
    const envelope = parseEnvelope(ciphertext);
    const slot = slots.get(envelope.keyId);
    if (slot === undefined) throw new DecryptionError("unknown_key");
    try {
      const gcm = createDecipheriv(ALGORITHM, slot.key, envelope.iv, { authTagLength: TAG_LENGTH });
      gcm.setAAD(associatedDataFrom(slot.aadPrefix, contextText));
      gcm.setAuthTag(envelope.tag);
      const plaintext = gcm.update(envelope.ciphertext);
      gcm.final(); // checks the tag (throws on a mismatch); GCM returns no bytes here
      return plaintext.toString("utf8");
    } catch {
      // No cause: node's error adds nothing safe to know beyond the reason.
      throw new DecryptionError("authentication_failed");
    }
  };

  const keyIdOf = (ciphertext: string): string => parseEnvelope(ciphertext).keyId;

  const isOnActiveKey = (ciphertext: string): boolean =>
    keyIdOf(ciphertext) === keyring.activeKeyId;

  const selfTest = (): void => {
    for (const keyId of keyring.keyIds) {
      const probe = randomBytes(24).toString("base64url");
      const context = { purpose: "self-test", key_id: keyId };
      let ok: boolean;
      try {
        const stored = encryptWith(keyId, probe, context);
        // Stryker disable next-line ConditionalExpression: the key id check is implied: decrypt() fails unless the envelope names keyId (it is in the AAD, which the wrong-context probe shows is checked)
        ok = keyIdOf(stored) === keyId && decrypt(stored, context) === probe;
        ok &&= rejects(() => decrypt(stored, { ...context, purpose: "self-test-other" }));
      } catch {
        ok = false;
      }
      if (!ok) throw new KeyringConfigError(`Self-test failed for key "${keyId}".`);
    }
  };

  const encryptionCounts = (): Record<string, number> => Object.fromEntries(counts);

  const keyCheckValue = (keyId: string): string => {
    const slot = slots.get(keyId);
    if (slot === undefined) throw new Error(`Key "${keyId}" is missing from the keyring.`);
    const derived = hkdfSync("sha256", slot.key, Buffer.alloc(0), KEY_CHECK_INFO, KEY_CHECK_LENGTH);
    return Buffer.from(derived).toString("base64url");
  };

  const fingerprintKeys = new Map<string, Buffer>();
  const fingerprintWith = (keyId: string, data: string): Buffer | undefined => {
    let key = fingerprintKeys.get(keyId);
    // Stryker disable next-line ConditionalExpression: a cache; deriving the same HKDF key again gives the same bytes
    if (key === undefined) {
      const slot = slots.get(keyId);
      if (slot === undefined) return undefined;
      key = Buffer.from(hkdfSync("sha256", slot.key, Buffer.alloc(0), FINGERPRINT_INFO, 32));
      fingerprintKeys.set(keyId, key);
    }
    return createHmac("sha256", key).update(data, "utf8").digest();
  };

  const fingerprint = (data: string): string =>
    `${keyring.activeKeyId}:${fingerprintWith(keyring.activeKeyId, data)!.toString("base64url")}`;

  const matchesFingerprint = (stored: string, data: string): boolean => {
    const colon = stored.lastIndexOf(":");
    // Stryker disable next-line EqualityOperator: at colon 0 the key id is empty, which no keyring holds (ids are 1-64 characters), so the lookup returns false anyway
    if (colon <= 0) return false;
    const expected = fingerprintWith(stored.slice(0, colon), data);
    const given = Buffer.from(stored.slice(colon + 1), "base64url");
    return expected !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
  };

  return Object.freeze({
    activeKeyId: keyring.activeKeyId,
    keyIds: keyring.keyIds,
    encrypt,
    decrypt,
    keyIdOf,
    isOnActiveKey,
    selfTest,
    keyCheckValue,
    encryptionCounts,
    fingerprint,
    matchesFingerprint,
  });
}

function rejects(action: () => unknown): boolean {
  try {
    action();
    return false;
  } catch (error) {
    return error instanceof DecryptionError && error.reason === "authentication_failed";
  }
}
