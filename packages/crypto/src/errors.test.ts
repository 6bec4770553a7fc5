import { describe, expect, it } from "vitest";
import { DECRYPTION_FAILURE_REASONS, DecryptionError, KeyringConfigError } from "./errors.js";

describe("DecryptionError", () => {
  it("lists every failure reason", () => {
    expect(DECRYPTION_FAILURE_REASONS).toEqual([
      "malformed",
      "unsupported_version",
      "unknown_key",
      "authentication_failed",
    ]);
    expect(Object.isFrozen(DECRYPTION_FAILURE_REASONS)).toBe(true);
  });

  it.each([
    ["malformed", "Decryption failed: the ciphertext is malformed."],
    ["unsupported_version", "Decryption failed: the ciphertext uses an unsupported envelope version."],
    ["unknown_key", "Decryption failed: the ciphertext names a key that is not in the keyring."],
    [
      "authentication_failed",
      "Decryption failed: authentication failed (wrong key, wrong encryption context, or tampered data).",
    ],
  ] as const)("has a fixed message for %s", (reason, message) => {
    const error = new DecryptionError(reason);
    expect(error.reason).toBe(reason);
    expect(error.message).toBe(message);
    expect(error.name).toBe("DecryptionError");
    expect(error).toBeInstanceOf(Error);
  });
});

describe("KeyringConfigError", () => {
  it("is an Error named KeyringConfigError", () => {
    const error = new KeyringConfigError("Keyring has no keys.");
    expect(error.name).toBe("KeyringConfigError");
    expect(error.message).toBe("Keyring has no keys.");
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toBe("KeyringConfigError: Keyring has no keys.");
  });
});
