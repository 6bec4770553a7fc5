/**
 * Encryption at rest for registry credentials: AES-256-GCM with a 12-byte random IV and a
 * 16-byte tag, a keyring (one active key, others decrypt-only), self-describing ciphertexts
 * (`v1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`) and an encryption context bound as
 * associated data. This package never reads the environment: keys come in as arguments.
 *
 * @example
 * ```ts
 * import { createCipher, parseKeyringSpec, DecryptionError } from "@modbox/crypto";
 *
 * const keyring = parseKeyringSpec(config.encryptionKeys); // "k2025b:<b64>,k2025a:<b64>"
 * const cipher = createCipher(keyring);
 * cipher.selfTest(); // at start-up: every key encrypts and decrypts
 *
 * const context = { workspace_id: "ws_1", registry_id: "reg_1" };
 * const stored = cipher.encrypt("s3cret", context);
 * cipher.decrypt(stored, context); // "s3cret"
 * cipher.decrypt(stored, { workspace_id: "ws_2", registry_id: "reg_1" }); // throws DecryptionError
 * cipher.isOnActiveKey(stored); // true; false for rows left on an older key
 * ```
 *
 * @packageDocumentation
 */

// Keyring: build from configuration or bytes, generate and serialise keys.
export {
  KEY_LENGTH,
  createKeyring,
  formatKeyringSpec,
  generateKey,
  parseKeyringSpec,
  type CreateKeyringOptions,
  type GenerateKeyOptions,
  type Keyring,
  type KeyringKey,
} from "./keyring.js";

// Cipher: encrypt/decrypt closures, rotation helpers, self-test, nonce-budget accounting.
export {
  DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD,
  MAX_ENCRYPTIONS_PER_KEY,
  createCipher,
  type Cipher,
  type CipherOptions,
} from "./cipher.js";

// Envelope format constants and the encryption context type.
export { ENVELOPE_VERSION, KEY_ID_PATTERN } from "./envelope.js";
export type { EncryptionContext } from "./context.js";

// Errors.
export {
  DECRYPTION_FAILURE_REASONS,
  DecryptionError,
  KeyringConfigError,
  type DecryptionFailureReason,
} from "./errors.js";
