import { describe, expect, it } from "vitest";
import { generateApiToken, hashApiToken, isWellFormedApiToken } from "./api-token.js";

describe("API tokens", () => {
  it("are mbx_ tokens with a valid checksum, unique each time", () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateApiToken));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) {
      expect(token).toMatch(/^mbx_[A-Za-z0-9_-]{32}[0-9a-f]{8}$/);
      expect(isWellFormedApiToken(token)).toBe(true);
    }
  });

  it("a changed character breaks the checksum", () => {
    const token = generateApiToken();
    for (let i = 4; i < token.length; i++) {
      const swapped = token[i] === "A" ? "B" : "A";
      expect(isWellFormedApiToken(token.slice(0, i) + swapped + token.slice(i + 1))).toBe(false);
    }
    expect(isWellFormedApiToken(token.slice(0, -1))).toBe(false);
    expect(isWellFormedApiToken(`${token}0`)).toBe(false);
    expect(isWellFormedApiToken(token.replace("mbx_", "mbz_"))).toBe(false);
  });

  it("hashes to SHA-256 hex, never the token itself", () => {
    const token = generateApiToken();
    expect(hashApiToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiToken(token)).not.toContain(token);
    expect(hashApiToken(token)).toBe(hashApiToken(token));
  });
});
