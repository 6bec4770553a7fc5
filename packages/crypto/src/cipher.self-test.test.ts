import * as crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCipher } from "./cipher.js";
import type * as contextModule from "./context.js";
import { DecryptionError, KeyringConfigError } from "./errors.js";
import { createKeyring } from "./keyring.js";

// Faults the self-test must catch, injected into the modules the cipher uses.
const broken = vi.hoisted(() => ({
  /** The decipher ignores the associated data (the cipher still sets it). */
  ignoreAad: false,
  /** Both the cipher and the decipher ignore the associated data: a wrong context decrypts. */
  ignoreAadBothWays: false,
  /** Thrown when the self-test's wrong context is encoded, instead of failing authentication. */
  wrongContextError: undefined as Error | undefined,
}));

vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof crypto>();
  return {
    ...original,
    createCipheriv: ((...args: Parameters<typeof original.createCipheriv>) => {
      const cipher = original.createCipheriv(...args) as crypto.CipherGCM;
      if (broken.ignoreAadBothWays) cipher.setAAD = () => cipher;
      return cipher;
    }) as typeof original.createCipheriv,
    createDecipheriv: ((...args: Parameters<typeof original.createDecipheriv>) => {
      const decipher = original.createDecipheriv(...args) as crypto.DecipherGCM;
      if (broken.ignoreAad || broken.ignoreAadBothWays) decipher.setAAD = () => decipher;
      return decipher;
    }) as typeof original.createDecipheriv,
  };
});

vi.mock("./context.js", async (importOriginal) => {
  const original = await importOriginal<typeof contextModule>();
  return {
    ...original,
    contextAadText: (context: contextModule.EncryptionContext) => {
      if (broken.wrongContextError !== undefined && context.purpose === "self-test-other") {
        throw broken.wrongContextError;
      }
      return original.contextAadText(context);
    },
  };
});

afterEach(() => {
  broken.ignoreAad = false;
  broken.ignoreAadBothWays = false;
  broken.wrongContextError = undefined;
});

describe("selfTest", () => {
  const keyring = createKeyring({
    keys: [
      { id: "a", key: crypto.randomBytes(32) },
      { id: "b", key: crypto.randomBytes(32) },
    ],
    activeKeyId: "a",
  });

  it("passes with a sound implementation", () => {
    expect(() => createCipher(keyring).selfTest()).not.toThrow();
  });

  it("fails with a KeyringConfigError naming the key when decryption misbehaves", () => {
    broken.ignoreAad = true;
    expect(() => createCipher(keyring).selfTest()).toThrow(
      new KeyringConfigError('Self-test failed for key "a".'),
    );
  });

  it("fails when a wrong encryption context decrypts", () => {
    broken.ignoreAadBothWays = true;
    const cipher = createCipher(keyring);
    // The fault as the self-test sees it: the right context round-trips, a wrong one too.
    const stored = cipher.encrypt("pw", { workspace_id: "w1" });
    expect(cipher.decrypt(stored, { workspace_id: "w1" })).toBe("pw");
    expect(cipher.decrypt(stored, { workspace_id: "w2" })).toBe("pw");
    expect(() => cipher.selfTest()).toThrow(new KeyringConfigError('Self-test failed for key "a".'));
  });

  it.each([
    ["a TypeError", new TypeError("context encoder broke")],
    ["a DecryptionError other than authentication_failed", new DecryptionError("malformed")],
  ])("fails when a wrong context is refused with %s instead of an authentication failure", (_, error) => {
    broken.wrongContextError = error;
    expect(() => createCipher(keyring).selfTest()).toThrow(
      new KeyringConfigError('Self-test failed for key "a".'),
    );
  });
});
