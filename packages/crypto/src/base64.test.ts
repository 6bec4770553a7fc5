import { describe, expect, it } from "vitest";
import { decodeBase64Strict, decodeBase64UrlStrict } from "./base64.js";

describe("decodeBase64UrlStrict", () => {
  it("decodes canonical unpadded base64url", () => {
    const bytes = Buffer.from([0xfb, 0xff, 0x00, 0x10]);
    expect(decodeBase64UrlStrict(bytes.toString("base64url"))).toEqual(bytes);
    expect(decodeBase64UrlStrict("")).toEqual(Buffer.alloc(0));
  });

  it.each([
    ["padding", "AA=="],
    ["standard alphabet", "+/8A"],
    ["whitespace", "AAAA AAAA"],
    ["impossible length", "AAAAA"],
    ["non-canonical trailing bits", "AB"],
    ["foreign characters", "AA.A"],
  ])("rejects %s", (_, text) => {
    expect(decodeBase64UrlStrict(text)).toBeUndefined();
  });
});

describe("decodeBase64Strict", () => {
  const bytes = Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0x01]);

  it("accepts standard base64 and base64url, padded or not", () => {
    const standard = bytes.toString("base64");
    expect(standard).toMatch(/[+/]/);
    expect(decodeBase64Strict(standard)).toEqual(bytes);
    expect(decodeBase64Strict(standard.replace(/=+$/, ""))).toEqual(bytes);
    expect(decodeBase64Strict(bytes.toString("base64url"))).toEqual(bytes);
    expect(decodeBase64Strict(`${bytes.toString("base64url")}=`)).toEqual(bytes);
  });

  it("accepts two padding characters (one byte in the last group)", () => {
    expect(decodeBase64Strict("+w==")).toEqual(Buffer.from([0xfb]));
    expect(decodeBase64Strict("AAAA_w==")).toEqual(Buffer.from([0, 0, 0, 0xff]));
  });

  it.each([
    ["mixed alphabets", "+_8A"],
    ["too much padding", "AAAAAA==="],
    ["padding where none is due", "AAAA=="],
    ["short padding", "AA="],
    ["inner padding", "AA==AAAA"],
    ["inner whitespace", "AAAA\nAAAA"],
    ["non-canonical trailing bits", "AB=="],
    ["foreign characters", "AAA*"],
  ])("rejects %s", (_, text) => {
    expect(decodeBase64Strict(text)).toBeUndefined();
  });
});

describe("decodeBase64UrlStrict is exactly 'decodes and re-encodes to itself'", () => {
  const reencodes = (text: string) =>
    /^[A-Za-z0-9_-]*$/.test(text) && Buffer.from(text, "base64url").toString("base64url") === text;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  it("agrees on every last character, for every length mod 4", () => {
    for (const stem of ["", "A", "AB", "ABC", "ABCD", "ABCDE", "ABCDEF", "ABCDEFG"]) {
      for (const last of alphabet) {
        const text = stem + last;
        expect(decodeBase64UrlStrict(text) !== undefined, text).toBe(reencodes(text));
      }
    }
  });

  it("agrees on random canonical and tampered payloads", () => {
    for (let n = 0; n < 64; n++) {
      const text = Buffer.from(Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 0xff)).toString("base64url");
      expect(decodeBase64UrlStrict(text)).toEqual(Buffer.from(text, "base64url"));
      if (text.length > 0) {
        for (const last of alphabet) {
          const tampered = text.slice(0, -1) + last;
          expect(decodeBase64UrlStrict(tampered) !== undefined, tampered).toBe(reencodes(tampered));
        }
      }
    }
  });
});
