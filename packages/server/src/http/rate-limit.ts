import type { RequestHandler } from "express";
import { sendProblem } from "./problem.js";
import "./request-context.js";

/**
 * A fixed one-minute window per token, in memory, counted by this instance alone: behind N
 * instances a token may make up to N × `perMinute` requests a minute (the README says so).
 * Counting in PostgreSQL instead would add a write to every request, on one row per token that
 * all of that token's requests contend for. Only authenticated requests get here, so the map
 * holds real tokens only. 0 turns it off.
 */
export function rateLimit(perMinute: number, now: () => number = Date.now): RequestHandler {
  const windows = new Map<string, { startedAt: number; count: number }>();
  return (req, res, next) => {
    if (perMinute <= 0 || !req.principal) return next();
    const at = now();
    const key = req.principal.tokenId;
    let window = windows.get(key);
    if (!window || at - window.startedAt >= 60_000) {
      if (windows.size > 100_000) windows.clear();
      window = { startedAt: at, count: 0 };
      windows.set(key, window);
    }
    window.count += 1;
    if (window.count > perMinute) {
      const retryAfter = Math.max(1, Math.ceil((window.startedAt + 60_000 - at) / 1000));
      sendProblem(req, res, { code: "rate_limited", detail: "Too many requests for this token.", retryAfter });
      return;
    }
    next();
  };
}
