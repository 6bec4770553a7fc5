import { describe, expect, it } from "vitest";
import { jwtExpiry } from "./jwt-expiry.js";

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const jwt = (claims: unknown) => `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;

describe("jwtExpiry", () => {
  it("reads exp (seconds) without verifying the signature", () => {
    expect(jwtExpiry(jwt({ exp: 1_900_000_000, sub: "x" }))).toEqual(new Date(1_900_000_000_000));
  });

  it.each([
    ["no exp", jwt({ sub: "x" })],
    ["exp as a string", jwt({ exp: "1900000000" })],
    ["exp zero", jwt({ exp: 0 })],
    ["exp past year 9999", jwt({ exp: 1e12 })],
    ["claims that are not an object", jwt(42)],
    ["claims that are not JSON", `${part({})}.bm90IGpzb24.x`],
    ["two parts", "a.b"],
    ["an opaque token", "opaque-refresh-token"],
  ])("is null for %s", (_name, token) => {
    expect(jwtExpiry(token)).toBeNull();
  });
});
