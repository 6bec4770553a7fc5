/**
 * Why a ciphertext could not be decrypted. The set is closed: callers can switch on it.
 *
 * - `malformed`: not a `v1:<keyId>:<payload>` envelope, or the payload is not canonical base64url
 *   or too short to hold an IV and a tag.
 * - `unsupported_version`: a well-formed version tag this package does not know (e.g. `v2`).
 * - `unknown_key`: the key id in the envelope is not in the keyring (retired or never loaded).
 * - `authentication_failed`: the GCM tag did not verify: wrong key, wrong encryption context,
 *   or tampered data.
 */
export type DecryptionFailureReason =
  | "malformed"
  | "unsupported_version"
  | "unknown_key"
  | "authentication_failed";

/** Every {@link DecryptionFailureReason}, e.g. for exhaustive mapping tables. */
export const DECRYPTION_FAILURE_REASONS: readonly DecryptionFailureReason[] = Object.freeze([
  "malformed",
  "unsupported_version",
  "unknown_key",
  "authentication_failed",
]);

// Fixed messages: they never echo the ciphertext, the plaintext, a key or the context.
const MESSAGES: Readonly<Record<DecryptionFailureReason, string>> = {
  malformed: "Decryption failed: the ciphertext is malformed.",
  unsupported_version: "Decryption failed: the ciphertext uses an unsupported envelope version.",
  unknown_key: "Decryption failed: the ciphertext names a key that is not in the keyring.",
  authentication_failed:
    "Decryption failed: authentication failed (wrong key, wrong encryption context, or tampered data).",
};

/**
 * A ciphertext could not be decrypted. There is never a plaintext fallback.
 *
 * The message is fixed per {@link DecryptionFailureReason} and has no `cause`, so logging the
 * error is safe.
 *
 * @example
 * ```ts
 * try {
 *   password = cipher.decrypt(row.passwordCiphertext, { workspace_id, registry_id });
 * } catch (error) {
 *   if (error instanceof DecryptionError) {
 *     log.error({ reason: error.reason }, "credential undecryptable");
 *     throw problem(500, "credential_undecryptable");
 *   }
 *   throw error;
 * }
 * ```
 */
export class DecryptionError extends Error {
  override readonly name = "DecryptionError";
  readonly reason: DecryptionFailureReason;

  constructor(reason: DecryptionFailureReason) {
    super(MESSAGES[reason]);
    this.reason = reason;
  }
}

/**
 * The keyring configuration is unusable: a malformed spec, a bad key id, a key that is not
 * exactly 32 bytes, a duplicate id, an unknown active key, or a failed self-test.
 *
 * Messages name entries by position and (valid) key id only; they never contain key material.
 * A server should refuse to start on this error.
 *
 * @example
 * ```ts
 * try {
 *   keyring = parseKeyringSpec(env.MODBOX_ENCRYPTION_KEYS);
 * } catch (error) {
 *   if (error instanceof KeyringConfigError) {
 *     console.error(`invalid MODBOX_ENCRYPTION_KEYS: ${error.message}`);
 *     process.exit(1);
 *   }
 *   throw error;
 * }
 * ```
 */
export class KeyringConfigError extends Error {
  override readonly name = "KeyringConfigError";
}
