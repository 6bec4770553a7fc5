import { randomBytes } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type * as base64Module from "./base64.js";
import { KeyringConfigError } from "./errors.js";
import { keyFor, parseKeyringSpec } from "./keyring.js";

// Records every buffer the spec's keys are decoded into, to check what is left in them afterwards.
const decoded = vi.hoisted(() => [] as Buffer[]);
vi.mock("./base64.js", async (importOriginal) => {
  const original = await importOriginal<typeof base64Module>();
  return {
    ...original,
    decodeBase64Strict: (text: string) => {
      const bytes = original.decodeBase64Strict(text);
      if (bytes !== undefined) decoded.push(bytes);
      return bytes;
    },
  };
});

beforeEach(() => {
  decoded.length = 0;
});

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const isZeroed = (bytes: Buffer): boolean => bytes.every((byte) => byte === 0);

describe("parseKeyringSpec leaves no decoded copy of a key behind", () => {
  it("zeroes the decoded bytes once the keyring holds them", () => {
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    const keyring = parseKeyringSpec(`a:${b64(keyA)},b:${b64(keyB)}`);
    expect(decoded).toHaveLength(2);
    expect(decoded.map(isZeroed)).toEqual([true, true]);
    expect(keyFor(keyring, "a")?.export()).toEqual(keyA);
    expect(keyFor(keyring, "b")?.export()).toEqual(keyB);
  });

  it("zeroes them when a later entry is rejected", () => {
    expect(() => parseKeyringSpec(`a:${b64(randomBytes(32))},b:${b64(randomBytes(16))}`)).toThrow(
      KeyringConfigError,
    );
    expect(decoded).toHaveLength(2);
    expect(decoded.map(isZeroed)).toEqual([true, true]);
  });
});
