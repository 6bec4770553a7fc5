import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { KeyringConfigError } from "./errors.js";
import {
  createKeyring,
  formatKeyringSpec,
  generateKey,
  isKeyring,
  keyFor,
  parseKeyringSpec,
} from "./keyring.js";

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

/** Runs `action`, expects a KeyringConfigError, and returns its message (asserted outside the catch). */
function configError(action: () => unknown): string {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(KeyringConfigError);
  return (thrown as KeyringConfigError).message;
}

/** Every textual form of the key that must never appear in a message. */
function forms(key: Uint8Array): string[] {
  const buffer = Buffer.from(key);
  return [buffer.toString("base64"), buffer.toString("base64url"), buffer.toString("hex")].filter(
    (form) => form.length > 0,
  );
}

describe("parseKeyringSpec", () => {
  it("parses entries, defaulting the active key to the first", () => {
    const keyring = parseKeyringSpec(`a:${b64(keyA)},b:${b64(keyB)}`);
    expect(keyring.activeKeyId).toBe("a");
    expect(keyring.keyIds).toEqual(["a", "b"]);
    expect(keyFor(keyring, "a")?.export()).toEqual(keyA);
    expect(keyFor(keyring, "b")?.export()).toEqual(keyB);
  });

  it("takes an explicit active key id", () => {
    expect(parseKeyringSpec(`a:${b64(keyA)},b:${b64(keyB)}`, "b").activeKeyId).toBe("b");
  });

  it("trims whitespace around entries, ids and keys", () => {
    const keyring = parseKeyringSpec(`  a : ${b64(keyA)} ,\n\tb:${b64(keyB)}\n`);
    expect(keyring.keyIds).toEqual(["a", "b"]);
    expect(keyFor(keyring, "a")?.export()).toEqual(keyA);
  });

  it("accepts standard base64 and base64url, padded or not", () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xf8 + (i % 8)));
    const standard = key.toString("base64");
    expect(standard).toMatch(/[+/].*=$/);
    for (const text of [standard, standard.replace(/=$/, ""), key.toString("base64url")]) {
      expect(keyFor(parseKeyringSpec(`k:${text}`), "k")?.export()).toEqual(key);
    }
  });

  it.each([0, 16, 31, 33, 64])("rejects a %i-byte key without echoing it", (length) => {
    const key = randomBytes(length);
    const message = configError(() => parseKeyringSpec(`good:${b64(keyA)},bad:${b64(key)}`));
    expect(message).toContain("entry 2");
    expect(message).toContain('"bad"');
    for (const form of [...forms(key), ...forms(keyA)]) expect(message).not.toContain(form);
  });

  const base = b64(keyA);
  const empty = "Keyring spec is empty; expected <keyId>:<base64 key>[,...].";
  const invalidId = (entry: number) =>
    `Keyring spec entry ${entry} has an invalid key id (expected 1-64 characters of A-Z a-z 0-9 _ -).`;
  const notBase64 = 'Keyring spec entry 1 ("a") is not valid base64 (standard or base64url, one alphabet, exact padding).';
  it.each([
    ["an empty spec", "", empty],
    ["a blank spec", "  \n ", empty],
    ["a trailing comma", `a:${base},`, "Keyring spec entry 2 is empty."],
    ["an empty middle entry", `a:${base},,b:${b64(keyB)}`, "Keyring spec entry 2 is empty."],
    ["a blank middle entry", `a:${base}, \t ,b:${b64(keyB)}`, "Keyring spec entry 2 is empty."],
    ["an entry without a colon", base, "Keyring spec entry 1 is not of the form <keyId>:<base64 key>."],
    ["an empty key", "a:", 'Keyring spec entry 1 ("a") has no key after ":".'],
    ["a blank key", "a:  ", 'Keyring spec entry 1 ("a") has no key after ":".'],
    ["an empty id", `:${base}`, invalidId(1)],
    ["an invalid id character", `a.b:${base}`, invalidId(1)],
    ["a 65-character id", `${"a".repeat(65)}:${base}`, invalidId(1)],
    ["a key in the id position", `a:${base},${base}:a`, invalidId(2)],
    ["a colon inside the key", `a:${base.slice(0, 20)}:${base.slice(20)}`, notBase64],
    ["a character outside the alphabet", `a:${base.slice(0, -2)}*=`, notBase64],
    ["whitespace inside the key", `a:${base.slice(0, 20)} ${base.slice(20)}`, notBase64],
    ["mixed alphabets", `a:-+${base.slice(2)}`, notBase64],
    ["too much padding", `a:${base}=`, notBase64],
    ["hex instead of base64", `a:${keyA.toString("hex")}`, 'Keyring spec entry 1 ("a") key is 48 bytes; expected exactly 32.'],
  ])("rejects %s without echoing key material", (_, spec, expected) => {
    const message = configError(() => parseKeyringSpec(spec));
    expect(message).toBe(expected);
    for (const form of forms(keyA)) expect(message).not.toContain(form);
    for (const form of forms(keyA)) expect(message).not.toContain(form.slice(0, 12));
  });

  it.each([undefined, null, 42, Buffer.from("a:AAAA")])("rejects a spec that is not a string (%j)", (spec) => {
    expect(configError(() => parseKeyringSpec(spec as unknown as string))).toBe("Keyring spec must be a string.");
  });

  it("rejects non-canonical base64 (trailing bits set)", () => {
    const canonical = b64(keyA); // 44 chars, the last data char carries 2 spare bits
    const last = canonical.at(-2) ?? "A";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const tweaked = alphabet[alphabet.indexOf(last) ^ 1] ?? "A";
    configError(() => parseKeyringSpec(`a:${canonical.slice(0, -2)}${tweaked}=`));
  });

  it("rejects duplicate ids, naming both entries", () => {
    const message = configError(() =>
      parseKeyringSpec(`a:${b64(keyA)},b:${b64(keyB)},a:${b64(keyB)}`),
    );
    expect(message).toMatch(/entry 3.*"a".*entry 1/);
    for (const form of [...forms(keyA), ...forms(keyB)]) expect(message).not.toContain(form);
  });

  it("rejects an unknown active id, listing the known ids", () => {
    const message = configError(() => parseKeyringSpec(`a:${b64(keyA)},b:${b64(keyB)}`, "z"));
    expect(message).toBe('Active key id "z" is not in the keyring (known: a, b).');
  });

  it("does not echo an active id that is not a valid id (it could be a key)", () => {
    const message = configError(() => parseKeyringSpec(`a:${b64(keyA)}`, b64(keyB)));
    for (const form of forms(keyB)) expect(message).not.toContain(form);
    expect(message).toBe("Active key id is not a valid key id (expected 1-64 characters of A-Z a-z 0-9 _ -).");
    expect(configError(() => parseKeyringSpec(`a:${b64(keyA)}`, ""))).toBe(message);
  });

  it("does not echo an invalid id", () => {
    const message = configError(() => parseKeyringSpec(`secret.value:${b64(keyA)}`));
    expect(message).not.toContain("secret.value");
  });
});

describe("createKeyring", () => {
  it("builds a keyring with one active key", () => {
    const keyring = createKeyring({
      keys: [
        { id: "a", key: keyA },
        { id: "b", key: new Uint8Array(keyB) },
      ],
      activeKeyId: "b",
    });
    expect(keyring).toEqual({ activeKeyId: "b", keyIds: ["a", "b"] });
    expect(isKeyring(keyring)).toBe(true);
    expect(Object.isFrozen(keyring) && Object.isFrozen(keyring.keyIds)).toBe(true);
  });

  it("copies the key bytes", () => {
    const key = Buffer.from(keyA);
    const keyring = createKeyring({ keys: [{ id: "a", key }], activeKeyId: "a" });
    key.fill(0);
    expect(keyFor(keyring, "a")?.export()).toEqual(keyA);
  });

  it("never exposes key material when logged or serialised", () => {
    const keyring = createKeyring({ keys: [{ id: "a", key: keyA }], activeKeyId: "a" });
    const printed = `${inspect(keyring, { depth: 10, showHidden: true })}${JSON.stringify(keyring)}`;
    for (const form of forms(keyA)) expect(printed).not.toContain(form);
  });

  it("is not fooled by a look-alike object", () => {
    expect(isKeyring({ activeKeyId: "a", keyIds: ["a"] })).toBe(false);
  });

  it.each([0, 16, 31, 33])("rejects a %i-byte key", (length) => {
    const key = randomBytes(length);
    const message = configError(() =>
      createKeyring({ keys: [{ id: "a", key }], activeKeyId: "a" }),
    );
    expect(message).toContain(`${length} bytes`);
    for (const form of forms(key)) expect(message).not.toContain(form);
  });

  const notAnArray = "keys must be an array of { id, key }.";
  it.each<[string, unknown, string]>([
    ["no options", undefined, notAnArray],
    ["no keys", { keys: [], activeKeyId: "a" }, "Keyring has no keys."],
    ["keys not an array", { keys: "a:xyz", activeKeyId: "a" }, notAnArray],
    ["a key entry that is null", { keys: [null], activeKeyId: "a" }, "keys[0] must be an object { id, key }."],
    [
      "a key entry that is a string",
      { keys: [{ id: "a", key: keyA }, "b:xyz"], activeKeyId: "a" },
      "keys[1] must be an object { id, key }.",
    ],
    ["a key that is a string", { keys: [{ id: "a", key: "x".repeat(32) }], activeKeyId: "a" }, 'keys[0] ("a") key must be bytes.'],
    [
      "an invalid id",
      { keys: [{ id: "a", key: keyA }, { id: "a:b", key: keyB }], activeKeyId: "a" },
      "keys[1] has an invalid key id (expected 1-64 characters of A-Z a-z 0-9 _ -).",
    ],
    [
      "a duplicate id",
      {
        keys: [
          { id: "a", key: keyA },
          { id: "a", key: keyB },
        ],
        activeKeyId: "a",
      },
      'keys[1] ("a") repeats the key id of keys[0].',
    ],
    [
      "an unknown active id",
      { keys: [{ id: "a", key: keyA }, { id: "c", key: keyB }], activeKeyId: "b" },
      'Active key id "b" is not in the keyring (known: a, c).',
    ],
    [
      "a missing active id",
      { keys: [{ id: "a", key: keyA }] },
      "Active key id is not a valid key id (expected 1-64 characters of A-Z a-z 0-9 _ -).",
    ],
  ])("rejects %s", (_, options, expected) => {
    expect(configError(() => createKeyring(options as Parameters<typeof createKeyring>[0]))).toBe(expected);
  });
});

describe("generateKey and formatKeyringSpec", () => {
  it("generates a random 32-byte key with a dated id", () => {
    const one = generateKey({ now: new Date("2025-01-14T23:59:59Z") });
    const two = generateKey();
    expect(one.id).toMatch(/^k20250114-[0-9a-f]{8}$/);
    expect(one.key).toHaveLength(32);
    expect(Buffer.from(one.key).equals(Buffer.from(two.key))).toBe(false);
    expect(one.id).not.toBe(generateKey({ now: new Date("2025-01-14T00:00:00Z") }).id);
  });

  it("round-trips through parseKeyringSpec; the first key is active", () => {
    const keys = [generateKey(), generateKey()];
    const spec = formatKeyringSpec(keys);
    const keyring = parseKeyringSpec(spec);
    expect(keyring.activeKeyId).toBe(keys[0]?.id);
    expect(keyring.keyIds).toEqual(keys.map((k) => k.id));
    for (const { id, key } of keys) expect(keyFor(keyring, id)?.export()).toEqual(Buffer.from(key));
  });

  it("validates what it formats", () => {
    expect(configError(() => formatKeyringSpec([]))).toBe("Keyring has no keys.");
    expect(configError(() => formatKeyringSpec([{ id: "a", key: randomBytes(16) }]))).toBe(
      'keys[0] ("a") key is 16 bytes; expected exactly 32.',
    );
  });
});
