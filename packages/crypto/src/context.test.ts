import { describe, expect, it } from "vitest";
import { associatedData, canonicalizeContext, type EncryptionContext } from "./context.js";

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
