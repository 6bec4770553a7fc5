import { randomUUID } from "node:crypto";

/**
 * UUIDv7 (RFC 9562): a millisecond timestamp, then random bits. Ids sort by creation time, so
 * `ORDER BY id` is a stable newest-first order and keyset pagination needs no second column.
 * Within one millisecond the order is random, which is still total and stable.
 *
 * The random bits are a v4 UUID's (`randomUUID` draws from the CSPRNG in batches, where
 * `randomBytes(16)` made a call per id): its last 74 random bits, after the version digit, are
 * exactly v7's `rand_a` (12 bits) and variant + `rand_b` (62 bits); the first 48 become the time.
 */
export function uuidv7(now: number = Date.now()): string {
  const random = randomUUID();
  const ms = now.toString(16).padStart(12, "0");
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${random.slice(15)}`;
}
