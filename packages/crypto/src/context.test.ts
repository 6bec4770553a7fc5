import { describe, expect, it } from "vitest";
import {
  associatedData,
  associatedDataFrom,
  associatedDataPrefix,
  canonicalizeContext,
  contextAadText,
  type EncryptionContext,
} from "./context.js";

describe("canonicalizeContext", () => {
  it("sorts entries by name, independent of insertion order", () => {
    const a = canonicalizeContext({ workspace_id: "w", registry_id: "r", a: "1" });
    const b = canonicalizeContext({ a: "1", registry_id: "r", workspace_id: "w" });
    expect(a).toEqual([
      ["a", "1"],
      ["registry_id", "r"],
      ["workspace_id", "w"],
    ]);
    expect(associatedData("v1", "k1", a)).toEqual(associatedData("v1", "k1", b));
  });

  it.each<[string, unknown]>([
    ["an empty object", {}],
    ["null", null],
    ["an array", [["workspace_id", "w"]]],
    ["a string", "workspace_id=w"],
    ["a non-string value", { workspace_id: 1 }],
    ["an empty value", { workspace_id: "" }],
    ["an empty name", { "": "w" }],
  ])("rejects %s with a TypeError", (_, context) => {
    expect(() => canonicalizeContext(context as EncryptionContext)).toThrow(TypeError);
  });

  it("does not echo context values in errors", () => {
    expect(() => canonicalizeContext({ workspace_id: 42 } as never)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("42") }),
    );
  });
});

describe("associatedData", () => {
  it("is unambiguous where a naive join would collide", () => {
    const one = associatedData("v1", "k1", canonicalizeContext({ a: "b:c" }));
    const two = associatedData("v1", "k1", canonicalizeContext({ "a:b": "c" }));
    const three = associatedData("v1", "k1", canonicalizeContext({ a: "b", c: "d" }));
    const four = associatedData("v1", "k1", canonicalizeContext({ a: 'b","c":"d' }));
    expect(new Set([one, two, three, four].map((b) => b.toString("hex"))).size).toBe(4);
  });

  it("binds the version and the key id", () => {
    const context = canonicalizeContext({ workspace_id: "w" });
    const base = associatedData("v1", "k1", context);
    expect(associatedData("v2", "k1", context)).not.toEqual(base);
    expect(associatedData("v1", "k2", context)).not.toEqual(base);
  });
});

describe("associatedDataFrom (the per-key prefix + context text used by the cipher)", () => {
  it("gives the same bytes as associatedData, so existing ciphertexts still open", () => {
    const contexts: EncryptionContext[] = [
      { workspace_id: "w" },
      { workspace_id: "ws-1", registry_id: "0190d5a0-7c1e-7000-8000-000000000001" },
      { b: 'quote " and \\ backslash', a: "üñí©ødé \u2028 \u0000 ctrl", "a:b": "c" },
      { z: "1", Z: "2", _: "3", "0": "4" },
    ];
    for (const keyId of ["k1", "key_2025-b"]) {
      for (const context of contexts) {
        expect(associatedDataFrom(associatedDataPrefix("v1", keyId), contextAadText(context))).toEqual(
          associatedData("v1", keyId, canonicalizeContext(context)),
        );
      }
    }
  });

  it.each<[string, unknown]>([
    ["an empty object", {}],
    ["null", null],
    ["an array", [["workspace_id", "w"]]],
    ["a non-string value", { workspace_id: 1 }],
    ["an empty value", { workspace_id: "" }],
    ["an empty name", { "": "w" }],
  ])("contextAadText rejects %s with a TypeError", (_, context) => {
    expect(() => contextAadText(context as EncryptionContext)).toThrow(TypeError);
  });
});
