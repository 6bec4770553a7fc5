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
  it.each([
    ["an empty spec", ""],
    ["a blank spec", "  \n "],
    ["a trailing comma", `a:${base},`],
    ["an empty middle entry", `a:${base},,b:${b64(keyB)}`],
    ["an entry without a colon", base],
    ["an empty key", "a:"],
    ["an empty id", `:${base}`],
    ["an invalid id character", `a.b:${base}`],
    ["a 65-character id", `${"a".repeat(65)}:${base}`],
    ["a key in the id position", `${base}:a`],
    ["a colon inside the key", `a:${base.slice(0, 20)}:${base.slice(20)}`],
    ["a character outside the alphabet", `a:${base.slice(0, -2)}*=`],
    ["whitespace inside the key", `a:${base.slice(0, 20)} ${base.slice(20)}`],
    ["mixed alphabets", `a:-+${base.slice(2)}`],
    ["too much padding", `a:${base}=`],
    ["hex instead of base64", `a:${keyA.toString("hex")}`],
  ])("rejects %s without echoing key material", (_, spec) => {
    const message = configError(() => parseKeyringSpec(spec));
    for (const form of forms(keyA)) expect(message).not.toContain(form);
    for (const form of forms(keyA)) expect(message).not.toContain(form.slice(0, 12));
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
    const message = configError(() => parseKeyringSpec(`a:${b64(keyA)}`, "z"));
    expect(message).toContain('"z"');
    expect(message).toContain("known: a");
  });

  it("does not echo an active id that is not a valid id (it could be a key)", () => {
    const message = configError(() => parseKeyringSpec(`a:${b64(keyA)}`, b64(keyB)));
    for (const form of forms(keyB)) expect(message).not.toContain(form);
    configError(() => parseKeyringSpec(`a:${b64(keyA)}`, ""));
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

  it.each<[string, unknown]>([
    ["no keys", { keys: [], activeKeyId: "a" }],
    ["keys not an array", { keys: "a:xyz", activeKeyId: "a" }],
    ["a key that is a string", { keys: [{ id: "a", key: "x".repeat(32) }], activeKeyId: "a" }],
    ["an invalid id", { keys: [{ id: "a:b", key: keyA }], activeKeyId: "a:b" }],
    [
      "a duplicate id",
      {
        keys: [
          { id: "a", key: keyA },
          { id: "a", key: keyB },
        ],
        activeKeyId: "a",
      },
    ],
    ["an unknown active id", { keys: [{ id: "a", key: keyA }], activeKeyId: "b" }],
    ["a missing active id", { keys: [{ id: "a", key: keyA }] }],
  ])("rejects %s", (_, options) => {
    configError(() => createKeyring(options as Parameters<typeof createKeyring>[0]));
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
    configError(() => formatKeyringSpec([]));
    configError(() => formatKeyringSpec([{ id: "a", key: randomBytes(16) }]));
  });
});
