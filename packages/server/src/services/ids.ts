import { randomBytes } from "node:crypto";

/**
 * UUIDv7 (RFC 9562): a millisecond timestamp, then random bits. Ids sort by creation time, so
 * `ORDER BY id` is a stable newest-first order and keyset pagination needs no second column.
 * Within one millisecond the order is random, which is still total and stable.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  const ms = BigInt(now);
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
