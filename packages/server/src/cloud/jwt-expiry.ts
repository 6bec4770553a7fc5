/**
 * When a JWT says it expires: its `exp` claim, read WITHOUT verifying the signature. That is
 * enough here: the token is only handed on (to a registry, or to a provisioner as a password), and
 * the time only decides when to exchange again; a wrong `exp` could make this server ask too often
 * or hand out a token the registry then refuses, never grant anything.
 */
export function jwtExpiry(token: string): Date | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return null;
  }
  const exp = typeof claims === "object" && claims !== null ? (claims as { exp?: unknown }).exp : undefined;
  // Seconds since the epoch (RFC 7519 NumericDate); anything else is no expiry at all.
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= 0 || exp > 253_402_300_799) return null;
  return new Date(exp * 1000);
}
