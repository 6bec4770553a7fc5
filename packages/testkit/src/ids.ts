/** Ids for test rows and workspaces. */
import { randomBytes } from "node:crypto";

let lastMillis = 0;
let sequence = 0;

/**
 * A UUIDv7 whose order is creation order, even within one millisecond (a 12-bit counter in
 * `rand_a`, RFC 9562 method 1). The app's own ids (services/ids.ts) are random within a
 * millisecond; tests that insert rows in a loop and assert `ORDER BY id` need this stricter order.
 */
export function uuidv7(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMillis += 1;
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMillis, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A workspace id no other test uses, so tests can share one database or app. The prefix only
 * helps a reader of logs and rows tell the tests' workspaces apart.
 */
export function freshWorkspaceId(prefix = "ws"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}
