import * as crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCipher } from "./cipher.js";
import { KeyringConfigError } from "./errors.js";
import { createKeyring } from "./keyring.js";

// A decipher that ignores the associated data: the self-test's wrong-context probe must catch it.
const broken = vi.hoisted(() => ({ ignoreAad: false }));
vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof crypto>();
  return {
    ...original,
    createDecipheriv: ((...args: Parameters<typeof original.createDecipheriv>) => {
      const decipher = original.createDecipheriv(...args) as crypto.DecipherGCM;
      if (broken.ignoreAad) decipher.setAAD = () => decipher;
      return decipher;
    }) as typeof original.createDecipheriv,
  };
});

afterEach(() => {
  broken.ignoreAad = false;
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
});
