import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCipher } from "./cipher.js";
import type * as envelopeModule from "./envelope.js";
import { DecryptionError } from "./errors.js";
import type * as keyringModule from "./keyring.js";
import { createKeyring } from "./keyring.js";

// Faults in the modules the cipher builds on, which the cipher must not paper over.
const broken = vi.hoisted(() => ({
  /** The parser hands the cipher only the first bytes of the tag. */
  tagBytes: undefined as number | undefined,
  /** The keyring has no key material for this id. */
  lostKeyId: undefined as string | undefined,
}));

vi.mock("./envelope.js", async (importOriginal) => {
  const original = await importOriginal<typeof envelopeModule>();
  return {
    ...original,
    parseEnvelope: (text: unknown) => {
      const envelope = original.parseEnvelope(text);
      const bytes = broken.tagBytes;
      return bytes === undefined ? envelope : { ...envelope, tag: envelope.tag.subarray(0, bytes) };
    },
  };
});

vi.mock("./keyring.js", async (importOriginal) => {
  const original = await importOriginal<typeof keyringModule>();
  return {
    ...original,
    keyFor: (keyring: keyringModule.Keyring, keyId: string) =>
      keyId === broken.lostKeyId ? undefined : original.keyFor(keyring, keyId),
  };
});

afterEach(() => {
  broken.tagBytes = undefined;
  broken.lostKeyId = undefined;
});

const context = { workspace_id: "ws_1", registry_id: "reg_1" };

describe("createCipher on faulty building blocks", () => {
  it.each([4, 8, 12, 15])("accepts only a full 16-byte tag, not the first %i bytes of the right one", (bytes) => {
    const cipher = createCipher(
      createKeyring({ keys: [{ id: "k1", key: randomBytes(32) }], activeKeyId: "k1" }),
    );
    const stored = cipher.encrypt("pw", context);
    broken.tagBytes = bytes;
    expect(() => cipher.decrypt(stored, context)).toThrow(new DecryptionError("authentication_failed"));
  });

  it("refuses to encrypt with an active key that has no key material", () => {
    broken.lostKeyId = "k1";
    const cipher = createCipher(
      createKeyring({ keys: [{ id: "k1", key: randomBytes(32) }], activeKeyId: "k1" }),
    );
    expect(() => cipher.encrypt("pw", context)).toThrow(new Error('Key "k1" is missing from the keyring.'));
  });
});
