import { describe, expect, it } from "vitest";
import { associatedDataFrom, associatedDataPrefix, contextAadText, type EncryptionContext } from "./context.js";

/** The one builder the cipher uses: a key's prefix and a context's entries. */
const aad = (version: string, keyId: string, context: EncryptionContext) =>
  associatedDataFrom(associatedDataPrefix(version, keyId), contextAadText(context)).toString("utf8");

describe("associated data", () => {
  it("is the pinned v1 text: stored ciphertexts were sealed with exactly these bytes", () => {
    expect(aad("v1", "k1", { workspace_id: "ws-1", registry_id: "0190d5a0-7c1e-7000-8000-000000000001" })).toBe(
      '["modbox/crypto","v1","k1",[["registry_id","0190d5a0-7c1e-7000-8000-000000000001"],["workspace_id","ws-1"]]]',
    );
    expect(aad("v1", "key_2025-b", { workspace_id: "w" })).toBe('["modbox/crypto","v1","key_2025-b",[["workspace_id","w"]]]');
    expect(aad("v1", "k1", { b: 'quote " and \\ backslash', a: "ü \u2028 \u0000", "a:b": "c" })).toBe(
      '["modbox/crypto","v1","k1",[["a","ü \u2028 \\u0000"],["a:b","c"],["b","quote \\" and \\\\ backslash"]]]',
    );
  });

  it("is the JSON of [label, version, key id, entries sorted by code unit], whatever the context", () => {
    const byCodeUnit = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const contexts: EncryptionContext[] = [
      { workspace_id: "w" },
      { workspace_id: "ws-1", registry_id: "r" },
      { registry_id: "r", workspace_id: "ws-1" },
      { z: "1", Z: "2", _: "3", "0": "4", é: "5" },
      // Around what JSON escapes: controls, DEL, the last printable ASCII, lone surrogates.
      { a: "tab\there", b: "del\u007f", c: "~}|{", d: "\ud800 alone", e: "\udfff", f: "pair 😀", "q\"uote": "x" },
    ];
    for (const context of contexts) {
      expect(aad("v1", "k1", context)).toBe(
        JSON.stringify(["modbox/crypto", "v1", "k1", Object.entries(context).sort(byCodeUnit)]),
      );
    }
  });

  it("does not depend on the order the context's entries were written in", () => {
    expect(aad("v1", "k1", { workspace_id: "w", registry_id: "r", a: "1" })).toBe(
      aad("v1", "k1", { a: "1", registry_id: "r", workspace_id: "w" }),
    );
  });

  it("is unambiguous where a naive join would collide", () => {
    const contexts: EncryptionContext[] = [{ a: "b:c" }, { "a:b": "c" }, { a: "b", c: "d" }, { a: 'b","c":"d' }];
    const texts = contexts.map((c) => aad("v1", "k1", c));
    expect(new Set(texts).size).toBe(4);
  });

  it("binds the version and the key id", () => {
    const base = aad("v1", "k1", { workspace_id: "w" });
    expect(aad("v2", "k1", { workspace_id: "w" })).not.toBe(base);
    expect(aad("v1", "k2", { workspace_id: "w" })).not.toBe(base);
  });
});

describe("contextAadText", () => {
  const notAnObject = "Encryption context must be an object of string values.";
  it.each<[string, unknown, string]>([
    ["an empty object", {}, "Encryption context must not be empty; bind the ciphertext to its row."],
    ["null", null, notAnObject],
    ["an array", [["workspace_id", "w"]], notAnObject],
    ["a string", "workspace_id=w", notAnObject],
    ["a non-string value", { workspace_id: 1 }, 'Encryption context value "workspace_id" must be a non-empty string.'],
    ["an empty value", { workspace_id: "" }, 'Encryption context value "workspace_id" must be a non-empty string.'],
    ["an empty name", { "": "w" }, "Encryption context names must not be empty."],
  ])("rejects %s with a TypeError saying what is wrong", (_, context, message) => {
    expect(() => contextAadText(context as EncryptionContext)).toThrow(new TypeError(message));
  });

  it("does not echo context values in errors", () => {
    expect(() => contextAadText({ workspace_id: 42 } as never)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("42") }),
    );
  });
});
