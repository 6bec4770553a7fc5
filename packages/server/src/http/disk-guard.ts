import type { RequestHandler } from "express";
import type { FreeSpaceMonitor } from "../db/free-space.js";
import { sendProblem } from "./problem.js";

/** Methods that never write: everything else (POST, PUT, DELETE, …) may. */
const READ_ONLY_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A full disk does not clear itself in a second or two: do not invite a retry storm. */
export const DISK_FULL_RETRY_AFTER_SECONDS = 30;

/** The detail every "no room to write" answer carries, from the guard and from the database alike. */
export const DISK_FULL_DETAIL =
  "The server's storage is full, so nothing was written; reads still work. Retry after an operator has freed space.";

/**
 * Refuses requests that may write while the disk under the embedded database is below its free
 * space minimum (see db/free-space.ts): 503 service_unavailable with Retry-After, before the body
 * is read. Reads go through.
 */
export function refuseWritesWhenDiskLow(monitor: FreeSpaceMonitor): RequestHandler {
  return (req, res, next) => {
    if (READ_ONLY_METHODS.has(req.method)) return next();
    const room = monitor.hasRoom();
    const refuse = () =>
      sendProblem(req, res, { code: "service_unavailable", detail: DISK_FULL_DETAIL, retryAfter: DISK_FULL_RETRY_AFTER_SECONDS });
    if (room === true) return next();
    if (room === false) return refuse();
    room.then((ok) => (ok ? next() : refuse()), next);
  };
}
