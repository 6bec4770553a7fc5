import { describe, expect, it } from "vitest";
import { DecryptionError } from "./errors.js";
import { IV_LENGTH, TAG_LENGTH, formatEnvelope, parseEnvelope } from "./envelope.js";

const iv = Buffer.alloc(IV_LENGTH, 1);
const ciphertext = Buffer.from("ciphertext bytes");
const tag = Buffer.alloc(TAG_LENGTH, 2);

function reasonOf(text: unknown): string {
  try {
    parseEnvelope(text);
  } catch (error) {
    if (error instanceof DecryptionError) return error.reason;
    throw error;
  }
  return "parsed";
}

describe("envelope", () => {
  it("round-trips v1:<keyId>:<base64url(iv ‖ ct ‖ tag)>", () => {
    const text = formatEnvelope({ keyId: "k_1-a", iv, ciphertext, tag });
    const payload = Buffer.concat([iv, ciphertext, tag]).toString("base64url");
    expect(text).toBe(`v1:k_1-a:${payload}`);
    expect(parseEnvelope(text)).toEqual({ version: "v1", keyId: "k_1-a", iv, ciphertext, tag });
  });

  it("accepts an empty ciphertext (empty plaintext)", () => {
    const text = formatEnvelope({ keyId: "k1", iv, ciphertext: Buffer.alloc(0), tag });
    expect(parseEnvelope(text).ciphertext.length).toBe(0);
  });

  const payload = Buffer.concat([iv, ciphertext, tag]).toString("base64url");
  it.each([
    ["", "malformed"],
    ["v1", "malformed"],
    ["v1:", "malformed"],
    ["v1:k1", "malformed"],
    ["v1:k1:", "malformed"],
    [`v1::${payload}`, "malformed"],
    [`v1:k1:${payload}:extra`, "malformed"],
    [`v1:k 1:${payload}`, "malformed"],
    [`v1:${"k".repeat(65)}:${payload}`, "malformed"],
    [`v1:k1:${payload}=`, "malformed"],
    [`v1:k1:${Buffer.from(payload, "base64url").toString("base64")}`, "malformed"],
    [`v1:k1:${Buffer.alloc(IV_LENGTH + TAG_LENGTH - 1).toString("base64url")}`, "malformed"],
    [`V1:k1:${payload}`, "malformed"],
    [`x:k1:${payload}`, "malformed"],
    [`v2:k1:${payload}`, "unsupported_version"],
    [`v0:k1:${payload}`, "unsupported_version"],
    ["v10:anything at all", "unsupported_version"],
    // A version alone, without a colon, is still classified by its tag.
    ["v2", "unsupported_version"],
    ["v10", "unsupported_version"],
    ["v", "malformed"],
    // The whole tag must be `v` and 1-6 digits, not just its start.
    [`v1x:k1:${payload}`, "malformed"],
    [`v2-beta:k1:${payload}`, "malformed"],
    [`v1234567:k1:${payload}`, "malformed"],
    [`v123456:k1:${payload}`, "unsupported_version"],
  ])("rejects %j as %s", (text, reason) => {
    expect(reasonOf(text)).toBe(reason);
  });

  it.each([undefined, null, 42, {}])("rejects a non-string (%j) as malformed", (value) => {
    expect(reasonOf(value)).toBe("malformed");
  });
});
