import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { safeErrorSummary } from "../db/errors.js";
import type { IdempotencyScope, IdempotencyService, NewClaim, StoredAnswer } from "../services/idempotency.js";
import { sendProblem } from "./problem.js";
import { workspaceOf } from "./request-context.js";

/**
 * A route's write that can claim the key and store its answer in the same statement as its
 * work (see `insertClaimingKey`): the answer sent, "key_exists" when the key was claimed
 * before (nothing written), or "not_applicable" (this request takes the general path).
 */
export type FusedWrite = (req: Request, scope: IdempotencyScope, claim: NewClaim) => Promise<StoredAnswer | "key_exists" | "not_applicable">;

/** The headers a replay carries again: what a client reads from the first answer. */
const REPLAYED_HEADERS = ["content-type", "etag", "location"] as const;

/**
 * `Idempotency-Key` on a POST route: the first request with a key runs, and its answer is kept;
 * a retry with the same key and request gets that answer again (`Idempotent-Replayed: true`)
 * without running. Only successful answers are kept: a refused request changed nothing, so its
 * retry runs again. Mount after authentication, `requireWorkspace` and the contract validator
 * (which checks the header), so only valid requests claim keys.
 */
export function idempotent(idempotency: IdempotencyService, logger: Logger, fused?: FusedWrite): RequestHandler {
  return async (req, res, next) => {
    const key = req.header("idempotency-key");
    if (key === undefined) return next();
    const scope = { tokenId: req.principal!.tokenId, workspaceId: workspaceOf(req), key };
    const request = fingerprintInput(req.method, req.originalUrl, req.body);
    const prepared = idempotency.newClaim(request);
    if (fused) {
      // The route's work and the key's answer in one write; "key_exists" falls through to the
      // claim below, which replays, refuses or waits as for any route.
      const outcome = await fused(req, scope, prepared);
      if (outcome !== "key_exists" && outcome !== "not_applicable") return sendStored(res, outcome);
    }
    const claim = await idempotency.claim(scope, request, prepared);

    switch (claim.kind) {
      case "reused":
        return sendProblem(req, res, {
          code: "idempotency_key_reused",
          detail: "This Idempotency-Key was already used for a different request (method, path, query or body); use a new key for a new request.",
          errors: [{ path: "/header/idempotency-key", message: "was used for a different request" }],
        });
      case "in_progress":
        return sendProblem(req, res, {
          code: "idempotency_in_progress",
          detail: "A request with this Idempotency-Key is still running; retry after Retry-After seconds to get its answer.",
          retryAfter: claim.retryAfterSeconds,
        });
      case "replay":
        res.setHeader("Idempotent-Replayed", "true");
        return sendStored(res, claim.answer);
    }
    // Only "run" is left: this request runs.

    // The answer is stored before it is sent: a client that got it and retries anyway finds
    // it stored. If storing fails the answer still goes out (the work is done); the key then
    // stays running until its lease ends, and a retry meanwhile is told to wait.
    const send = res.send.bind(res);
    res.send = function sendOnce(body?: unknown) {
      res.send = send;
      const status = res.statusCode;
      // No body (send() or send(null)) is stored as no body, so that a replay sends none either.
      const text = body == null ? "" : typeof body === "string" ? body : Buffer.isBuffer(body) ? body.toString("utf8") : JSON.stringify(body);
      const settle =
        status >= 200 && status < 300
          ? claim.answer({ status, headers: replayedHeaders(res.getHeaders()), body: text })
          : claim.release();
      settle.then(
        () => send(body),
        (error: unknown) => {
          // A summary, never the raw error: a driver error carries the statement's bound values.
          logger.warn({ err: safeErrorSummary(error), requestId: res.getHeader("X-Request-Id") }, "could not store the answer of an idempotent request");
          send(body);
        },
      );
      return res;
    };
    next();
  };
}

/** Sends an answer as it was stored (status, the replayed headers, body). */
function sendStored(res: Response, answer: StoredAnswer): void {
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.status(answer.status).send(answer.body);
}

function replayedHeaders(headers: Record<string, unknown>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = headers[name];
    if (value !== undefined) kept[name] = String(value);
  }
  return kept;
}

/**
 * What identifies a request for its key: method, path with query, and the body with object
 * keys in a canonical order, so that a client serialising the same body differently on a retry
 * is still recognised.
 */
export function fingerprintInput(method: string, url: string, body: unknown): string {
  return `${method} ${url}\n${canonicalJson(body ?? null)}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
