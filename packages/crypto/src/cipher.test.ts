import { createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import {
  DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD,
  MAX_ENCRYPTIONS_PER_KEY,
  createCipher,
  type Cipher,
} from "./cipher.js";
import type { EncryptionContext } from "./context.js";
import { DecryptionError, type DecryptionFailureReason } from "./errors.js";
import { createKeyring, type Keyring } from "./keyring.js";

const context = { workspace_id: "ws_1", registry_id: "reg_1" } as const;

function keyringOf(...ids: string[]): Keyring {
  return createKeyring({
    keys: ids.map((id) => ({ id, key: randomBytes(32) })),
    activeKeyId: ids[0] ?? "",
  });
}

/** Runs `action`, expects a DecryptionError, and returns its reason (asserted outside the catch). */
function failure(action: () => unknown): DecryptionFailureReason {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DecryptionError);
  return (thrown as DecryptionError).reason;
}

function payloadOf(ciphertext: string): Buffer {
  return Buffer.from(ciphertext.split(":")[2] ?? "", "base64url");
}

function withPayload(ciphertext: string, payload: Uint8Array): string {
  const [version, keyId] = ciphertext.split(":");
  return `${version}:${keyId}:${Buffer.from(payload).toString("base64url")}`;
}

describe("createCipher: round trip", () => {
  const cipher = createCipher(keyringOf("k1"));

  it.each([
    ["an empty string", ""],
    ["ASCII", "hunter2"],
    ["unicode", "pässwörd 🔑 日本語 Ω \u0000 \u200d"],
    ["a 512-character password", randomBytes(384).toString("base64")],
    ["a long token", "x".repeat(100_000)],
  ])("round-trips %s", (_, plaintext) => {
    const stored = cipher.encrypt(plaintext, context);
    expect(cipher.decrypt(stored, context)).toBe(plaintext);
    expect(stored).toMatch(/^v1:k1:[A-Za-z0-9_-]+$/);
    expect(payloadOf(stored)).toHaveLength(12 + Buffer.byteLength(plaintext) + 16);
    if (plaintext.length > 0) expect(stored).not.toContain(plaintext);
  });

  it("gives a different ciphertext for the same plaintext each time", () => {
    expect(cipher.encrypt("same", context)).not.toBe(cipher.encrypt("same", context));
  });

  it("uses a fresh IV for every encryption (10,000 encryptions)", () => {
    const ivs = new Set<string>();
    const ciphertexts = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const stored = cipher.encrypt("same plaintext", context);
      ciphertexts.add(stored);
      ivs.add(payloadOf(stored).subarray(0, 12).toString("hex"));
    }
    expect(ivs.size).toBe(10_000);
    expect(ciphertexts.size).toBe(10_000);
  });

  it("does not depend on the order of the context's entries", () => {
    const stored = cipher.encrypt("pw", { registry_id: "reg_1", workspace_id: "ws_1" });
    expect(cipher.decrypt(stored, { workspace_id: "ws_1", registry_id: "reg_1" })).toBe("pw");
  });

  it("refuses a plaintext with a lone surrogate rather than altering it", () => {
    expect(() => cipher.encrypt("ab\uD800cd", context)).toThrow(
      new TypeError("Plaintext is not well-formed Unicode (lone surrogate)."),
    );
  });

  it("refuses a plaintext that is not a string", () => {
    expect(() => cipher.encrypt(42 as unknown as string, context)).toThrow(
      new TypeError("Plaintext must be a string."),
    );
    expect(() => cipher.encrypt(Buffer.from("pw") as unknown as string, context)).toThrow(
      new TypeError("Plaintext must be a string."),
    );
  });

  it("decrypts a known-answer vector (pins the v1 format and associated data)", () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const fixed = createCipher(createKeyring({ keys: [{ id: "kat", key }], activeKeyId: "kat" }));
    const vector =
      "v1:kat:A4_qRMSUJ5luHi4_4D5O46nhRvu9wLQsJjFPmjEmkamyZkDbNJEonjVqmfSxbplYjd-MVmiO_k4";
    expect(fixed.decrypt(vector, context)).toBe("correct horse battery staple");

    // The same vector with plain node:crypto, following the documented layout.
    const payload = payloadOf(vector);
    const gcm = createDecipheriv("aes-256-gcm", key, payload.subarray(0, 12));
    gcm.setAAD(
      Buffer.from(
        '["modbox/crypto","v1","kat",[["registry_id","reg_1"],["workspace_id","ws_1"]]]',
      ),
    );
    gcm.setAuthTag(payload.subarray(-16));
    const plaintext = Buffer.concat([gcm.update(payload.subarray(12, -16)), gcm.final()]);
    expect(plaintext.toString()).toBe("correct horse battery staple");
  });
});

describe("createCipher: tampering fails closed", () => {
  const cipher = createCipher(keyringOf("k1", "k2"));
  const stored = cipher.encrypt("tamper-evident secret", context);
  const payload = payloadOf(stored);

  it("rejects every single-bit flip of the IV, ciphertext and tag", () => {
    const reasons = new Set<DecryptionFailureReason>();
    for (let bit = 0; bit < payload.length * 8; bit++) {
      const flipped = Buffer.from(payload);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      reasons.add(failure(() => cipher.decrypt(withPayload(stored, flipped), context)));
    }
    expect([...reasons]).toEqual(["authentication_failed"]);
  });

  it("rejects every truncation of the string", () => {
    for (let length = 0; length < stored.length; length++) {
      failure(() => cipher.decrypt(stored.slice(0, length), context));
    }
  });

  it("rejects every truncation of the payload, and an extension", () => {
    for (let length = 0; length < payload.length; length++) {
      const reason = failure(() =>
        cipher.decrypt(withPayload(stored, payload.subarray(0, length)), context),
      );
      expect(reason).toBe(length < 28 ? "malformed" : "authentication_failed");
    }
    const longer = Buffer.concat([payload, Buffer.from([0])]);
    expect(failure(() => cipher.decrypt(withPayload(stored, longer), context))).toBe(
      "authentication_failed",
    );
  });

  it.each<[string, (s: string) => string, DecryptionFailureReason]>([
    ["a future version", (s) => s.replace(/^v1:/, "v2:"), "unsupported_version"],
    ["a garbled version", (s) => s.replace(/^v1:/, "V1:"), "malformed"],
    ["a missing version", (s) => s.replace(/^v1:/, ""), "malformed"],
    ["another key id in the ring", (s) => s.replace(":k1:", ":k2:"), "authentication_failed"],
    ["an unknown key id", (s) => s.replace(":k1:", ":k9:"), "unknown_key"],
    ["an invalid key id", (s) => s.replace(":k1:", ":k/1:"), "malformed"],
    ["padding", (s) => `${s}=`, "malformed"],
    ["whitespace", (s) => ` ${s}`, "malformed"],
    ["an extra segment", (s) => `${s}:x`, "malformed"],
  ])("rejects %s", (_, alter, reason) => {
    expect(failure(() => cipher.decrypt(alter(stored), context))).toBe(reason);
  });

  it.each<[string, EncryptionContext]>([
    ["another workspace", { ...context, workspace_id: "ws_2" }],
    ["another registry", { ...context, registry_id: "reg_2" }],
    ["swapped values", { workspace_id: "reg_1", registry_id: "ws_1" }],
    ["an extra entry", { ...context, purpose: "x" }],
    ["a missing entry", { workspace_id: "ws_1" }],
    ["a different case", { WORKSPACE_ID: "ws_1", registry_id: "reg_1" }],
  ])("rejects the wrong context: %s", (_, wrong) => {
    expect(failure(() => cipher.decrypt(stored, wrong))).toBe("authentication_failed");
  });

  it("refuses an empty or invalid context on both sides with a TypeError", () => {
    expect(() => cipher.encrypt("pw", {})).toThrow(TypeError);
    expect(() => cipher.decrypt(stored, {})).toThrow(TypeError);
    expect(() => cipher.encrypt("pw", { workspace_id: "" })).toThrow(TypeError);
    expect(() => cipher.encrypt("pw", null as unknown as EncryptionContext)).toThrow(TypeError);
  });

  it("rejects non-strings as malformed", () => {
    for (const value of [undefined, null, 1, Buffer.from(stored)]) {
      expect(failure(() => cipher.decrypt(value as unknown as string, context))).toBe("malformed");
    }
  });

  it("uses the key named in the envelope, never another (no trial decryption)", () => {
    // Same id, different key material: the right id with the wrong key must not decrypt.
    const impostor = createCipher(keyringOf("k1"));
    expect(failure(() => impostor.decrypt(stored, context))).toBe("authentication_failed");
    // A ring without k1 does not fall back to its own keys.
    const other = createCipher(keyringOf("k3", "k4"));
    expect(failure(() => other.decrypt(stored, context))).toBe("unknown_key");
  });

  it("raises errors that echo nothing and carry no cause", () => {
    const error = (() => {
      try {
        cipher.decrypt(withPayload(stored, Buffer.alloc(payload.length)), context);
      } catch (caught) {
        return caught as DecryptionError;
      }
      throw new Error("expected a DecryptionError");
    })();
    expect(error.name).toBe("DecryptionError");
    expect(error.cause).toBeUndefined();
    expect(error.message).not.toContain(stored.split(":")[2]);
    expect(error.message).not.toContain("ws_1");
    expect(JSON.stringify(error)).not.toContain("tamper-evident");
  });
});

describe("createCipher: rotation", () => {
  const oldKey = { id: "old", key: randomBytes(32) };
  const newKey = { id: "new", key: randomBytes(32) };
  const before = createCipher(createKeyring({ keys: [oldKey], activeKeyId: "old" }));
  const legacy = before.encrypt("legacy secret", context);

  it("keeps decrypting with a decrypt-only key once a new key is active", () => {
    const after = createCipher(createKeyring({ keys: [oldKey, newKey], activeKeyId: "new" }));
    expect(after.activeKeyId).toBe("new");
    expect(after.decrypt(legacy, context)).toBe("legacy secret");
    const fresh = after.encrypt("legacy secret", context);
    expect(after.keyIdOf(fresh)).toBe("new");
    expect(after.keyIdOf(legacy)).toBe("old");
    expect(after.isOnActiveKey(fresh)).toBe(true);
    expect(after.isOnActiveKey(legacy)).toBe(false);
    expect(after.encryptionCounts()).toEqual({ old: 0, new: 1 });
  });

  it("re-encrypts onto the active key, then the old key can be retired", () => {
    const after = createCipher(createKeyring({ keys: [newKey, oldKey], activeKeyId: "new" }));
    const migrated = after.encrypt(after.decrypt(legacy, context), context);
    const retired = createCipher(createKeyring({ keys: [newKey], activeKeyId: "new" }));
    expect(retired.decrypt(migrated, context)).toBe("legacy secret");
    expect(failure(() => retired.decrypt(legacy, context))).toBe("unknown_key");
  });

  it("parses without decrypting, and rejects malformed input", () => {
    expect(before.keyIdOf(legacy)).toBe("old");
    expect(failure(() => before.keyIdOf("plaintext password"))).toBe("malformed");
    expect(failure(() => before.isOnActiveKey("v1:old"))).toBe("malformed");
    expect(failure(() => before.isOnActiveKey("v9:old:AAAA"))).toBe("unsupported_version");
  });
});

describe("createCipher: self-test and nonce budget", () => {
  it("self-tests every key in the ring", () => {
    const cipher = createCipher(keyringOf("a", "b", "c"));
    expect(() => cipher.selfTest()).not.toThrow();
    expect(cipher.encryptionCounts()).toEqual({ a: 1, b: 1, c: 1 });
  });

  it("exposes the NIST SP 800-38D budget", () => {
    expect(MAX_ENCRYPTIONS_PER_KEY).toBe(2 ** 32);
    expect(DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD).toBe(2 ** 31);
  });

  it("counts encryptions per key and warns once at the threshold", () => {
    const onNonceBudgetWarning = vi.fn();
    const cipher: Cipher = createCipher(keyringOf("a", "b"), {
      nonceBudgetWarningThreshold: 3,
      onNonceBudgetWarning,
    });
    cipher.encrypt("1", context);
    cipher.encrypt("2", context);
    expect(onNonceBudgetWarning).not.toHaveBeenCalled();
    cipher.encrypt("3", context);
    expect(onNonceBudgetWarning).toHaveBeenCalledTimes(1);
    expect(onNonceBudgetWarning).toHaveBeenCalledWith("a", 3);
    for (let i = 0; i < 10; i++) cipher.encrypt("more", context);
    expect(onNonceBudgetWarning).toHaveBeenCalledTimes(1);
    expect(cipher.encryptionCounts()).toEqual({ a: 13, b: 0 });
    // Decryptions do not consume the budget.
    cipher.decrypt(cipher.encrypt("x", context), context);
    expect(cipher.encryptionCounts()).toEqual({ a: 14, b: 0 });
  });

  it("keeps each key's warning separate", () => {
    const onNonceBudgetWarning = vi.fn();
    const cipher = createCipher(keyringOf("a", "b"), {
      nonceBudgetWarningThreshold: 1,
      onNonceBudgetWarning,
    });
    cipher.selfTest();
    cipher.selfTest();
    expect(onNonceBudgetWarning.mock.calls).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
  });

  it("still returns the ciphertext when the warning callback throws", () => {
    const cipher = createCipher(keyringOf("a"), {
      nonceBudgetWarningThreshold: 1,
      onNonceBudgetWarning: () => {
        throw new Error("logger down");
      },
    });
    expect(cipher.decrypt(cipher.encrypt("pw", context), context)).toBe("pw");
  });

  it("returns a snapshot of the counts", () => {
    const cipher = createCipher(keyringOf("a"));
    const counts = cipher.encryptionCounts();
    counts.a = 99;
    expect(cipher.encryptionCounts()).toEqual({ a: 0 });
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 32 + 1])("rejects a warning threshold of %s", (value) => {
    expect(() => createCipher(keyringOf("a"), { nonceBudgetWarningThreshold: value })).toThrow(
      new RangeError("nonceBudgetWarningThreshold must be an integer from 1 to 4294967296."),
    );
  });

  it("accepts a warning threshold of exactly the budget", () => {
    const cipher = createCipher(keyringOf("a"), { nonceBudgetWarningThreshold: MAX_ENCRYPTIONS_PER_KEY });
    expect(cipher.decrypt(cipher.encrypt("pw", context), context)).toBe("pw");
  });

  it("only accepts keyrings built by this package", () => {
    const fake = { activeKeyId: "a", keyIds: ["a"] } as Keyring;
    expect(() => createCipher(fake)).toThrow(
      new TypeError("createCipher needs a keyring from createKeyring or parseKeyringSpec."),
    );
  });
});

describe("createCipher: key check values", () => {
  const bytes = Buffer.alloc(32, 7);

  it("is HKDF-SHA256 of the key with the check label (RFC 5869, computed independently)", () => {
    const cipher = createCipher(createKeyring({ keys: [{ id: "k1", key: bytes }], activeKeyId: "k1" }));
    // Extract with an empty salt (= HashLen zero bytes), expand one block with the label.
    const prk = createHmac("sha256", Buffer.alloc(32)).update(bytes).digest();
    const okm = createHmac("sha256", prk).update("modbox/crypto key check value v1").update(Buffer.of(1)).digest();
    expect(cipher.keyCheckValue("k1")).toBe(okm.subarray(0, 16).toString("base64url"));
  });

  it("is the same for the same bytes under any keyring, different for other bytes, never the key", () => {
    const a = createCipher(createKeyring({ keys: [{ id: "k1", key: bytes }], activeKeyId: "k1" }));
    const b = createCipher(
      createKeyring({ keys: [{ id: "k0", key: randomBytes(32) }, { id: "k1", key: Buffer.from(bytes) }], activeKeyId: "k0" }),
    );
    const other = createCipher(createKeyring({ keys: [{ id: "k1", key: randomBytes(32) }], activeKeyId: "k1" }));
    expect(b.keyCheckValue("k1")).toBe(a.keyCheckValue("k1"));
    expect(other.keyCheckValue("k1")).not.toBe(a.keyCheckValue("k1"));
    expect(b.keyCheckValue("k0")).not.toBe(b.keyCheckValue("k1"));
    const value = Buffer.from(a.keyCheckValue("k1"), "base64url");
    expect(value).toHaveLength(16);
    expect(bytes.includes(value.subarray(0, 4))).toBe(false);
  });

  it("throws for a key id that is not in the keyring", () => {
    expect(() => createCipher(keyringOf("k1")).keyCheckValue("k2")).toThrow(/k2/);
  });

  it("lists the keyring's ids", () => {
    expect(createCipher(keyringOf("a", "b")).keyIds).toEqual(["a", "b"]);
  });
});

describe("createCipher: fingerprints", () => {
  const bytes = Buffer.alloc(32, 9);

  it("is HMAC-SHA256 under HKDF-SHA256 of the active key with the fingerprint label, named by the key id", () => {
    const cipher = createCipher(createKeyring({ keys: [{ id: "k1", key: bytes }], activeKeyId: "k1" }));
    const prk = createHmac("sha256", Buffer.alloc(32)).update(bytes).digest();
    const macKey = createHmac("sha256", prk).update("modbox/crypto fingerprint v1").update(Buffer.of(1)).digest();
    const expected = createHmac("sha256", macKey).update("POST /registries {}", "utf8").digest("base64url");
    expect(cipher.fingerprint("POST /registries {}")).toBe(`k1:${expected}`);
  });

  it("matches the same data only, under the key it names, after a rotation too", () => {
    const old = randomBytes(32);
    const before = createCipher(createKeyring({ keys: [{ id: "k1", key: old }], activeKeyId: "k1" }));
    const after = createCipher(
      createKeyring({ keys: [{ id: "k2", key: randomBytes(32) }, { id: "k1", key: Buffer.from(old) }], activeKeyId: "k2" }),
    );
    const stored = before.fingerprint("body with a password");
    expect(after.matchesFingerprint(stored, "body with a password")).toBe(true);
    expect(after.matchesFingerprint(stored, "body with a passwore")).toBe(false);
    expect(after.fingerprint("body with a password")).not.toBe(stored);
    // A key the ring does not hold, or a malformed value, never matches.
    const stranger = createCipher(keyringOf("k1"));
    expect(stranger.matchesFingerprint(stored, "body with a password")).toBe(false);
    for (const malformed of ["", "k1", ":abc", "k1:", "k9:" + stored.split(":")[1]]) {
      expect(after.matchesFingerprint(malformed, "body with a password"), malformed).toBe(false);
    }
  });

  it("does not match a value without a colon, even one that looks like <keyId><digest>", () => {
    // A key id may be any base64url text, so the digest minus its last character can be an id
    // of the ring: a value without the `:` must still never match.
    const key = randomBytes(32);
    const digest = createCipher(createKeyring({ keys: [{ id: "k1", key }], activeKeyId: "k1" }))
      .fingerprint("data")
      .split(":")[1]!;
    const lookalike = createCipher(
      createKeyring({ keys: [{ id: digest.slice(0, -1), key: Buffer.from(key) }], activeKeyId: digest.slice(0, -1) }),
    );
    expect(lookalike.matchesFingerprint(`${digest.slice(0, -1)}:${digest}`, "data")).toBe(true);
    expect(lookalike.matchesFingerprint(digest, "data")).toBe(false);
  });

  it("does not contain the data or the key", () => {
    const cipher = createCipher(createKeyring({ keys: [{ id: "k1", key: bytes }], activeKeyId: "k1" }));
    const value = Buffer.from(cipher.fingerprint("hunter2").split(":")[1]!, "base64url");
    expect(value).toHaveLength(32);
    expect(value.includes(Buffer.from("hunter2"))).toBe(false);
    expect(bytes.includes(value.subarray(0, 4))).toBe(false);
  });
});
