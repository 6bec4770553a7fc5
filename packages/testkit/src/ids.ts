/** Ids for test rows and workspaces. */
import { randomBytes } from "node:crypto";
import { productionUuidv7 } from "./server.js";

let lastMillis = 0;

/**
 * The app's own UUIDv7, on a clock that never gives the same millisecond twice. The app's ids
 * are random within a millisecond; tests that insert rows in a loop and assert `ORDER BY id`
 * need creation order, so each id here takes the next millisecond when the current one is used
 * (a burst of n ids runs at most n ms ahead of the wall clock).
 */
export function uuidv7(): string {
  lastMillis = Math.max(Date.now(), lastMillis + 1);
  return productionUuidv7(lastMillis);
}

/**
 * A workspace id no other test uses, so tests can share one database or app. The prefix only
 * helps a reader of logs and rows tell the tests' workspaces apart.
 */
export function freshWorkspaceId(prefix = "ws"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}
