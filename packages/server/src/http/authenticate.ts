import type { RequestHandler } from "express";
import type { Authenticator } from "../auth/authenticator.js";
import { insufficientScope, scopeAllows, workspaceAccessDenial } from "../auth/workspace-access.js";
import type { TokenScope } from "../db/records.js";
import { sendProblem } from "./problem.js";
import "./request-context.js";

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;

/** Throttled answers held at once, at most; past this they are sent at once and the connection closed. */
const MAX_HELD_REFUSALS = 1_000;

export interface AuthenticateOptions {
  /** Bound of throttled answers held at once (tests make it small). */
  maxHeldRefusals?: number;
}

/**
 * Resolves `Authorization: Bearer mbx_…` to a principal, or answers 401. More than one
 * Authorization header is a 400: Node keeps only the first, and a proxy or client that sent two
 * may mean the other.
 *
 * An address that failed too often gets 429 for any token this instance does not already know,
 * without a database query (see authenticator.ts); `req.ip` is the peer address unless the app
 * trusts a proxy (MODBOX_TRUST_PROXY). That 429 is held a moment before it is sent: answering it
 * costs little, but a client that sends the next forged token as soon as it has the answer would
 * otherwise keep this process busy answering it, and every other client would wait in line. Held,
 * each of its connections makes about one request per hold. The holds are bounded: past
 * MAX_HELD_REFUSALS the 429 goes at once with `Connection: close`.
 */
export function authenticate(authenticator: Authenticator, options: AuthenticateOptions = {}): RequestHandler {
  const maxHeld = options.maxHeldRefusals ?? MAX_HELD_REFUSALS;
  let held = 0;
  return async (req, res, next) => {
    if (authorizationHeaderCount(req.rawHeaders) > 1) {
      sendProblem(req, res, { code: "malformed_request", detail: "Send one Authorization header, not several." });
      return;
    }
    const result = await authenticator.authenticate(req.headers.authorization?.match(BEARER)?.[1], req.ip);
    if (result.kind === "throttled") {
      const refuse = () =>
        sendProblem(req, res, {
          code: "rate_limited",
          detail: "Too many failed authentications from this address; only tokens already in use here are accepted for now.",
          retryAfter: result.retryAfterSeconds,
        });
      if (result.holdMs <= 0) return refuse();
      if (held >= maxHeld) {
        res.setHeader("Connection", "close");
        return refuse();
      }
      held++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        held--;
        clearTimeout(timer);
      };
      const timer = setTimeout(() => {
        release();
        if (!res.headersSent && !res.destroyed) refuse();
      }, result.holdMs);
      // A client that gives up (or a shutdown that closes its connection) frees its place at once.
      res.once("close", release);
      return;
    }
    if (result.kind === "refused") {
      sendProblem(req, res, { code: "unauthorized", detail: "A valid bearer token is required." });
      return;
    }
    req.principal = result.principal;
    next();
  };
}

/** Authorization header lines as received (`rawHeaders` alternates names and values). */
function authorizationHeaderCount(rawHeaders: string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === "authorization") count++;
  }
  return count;
}

/**
 * Checks the token may act in `X-Workspace-Id` with the scope this route needs. Runs after the
 * OpenAPI validator, so the header is present and well-formed here.
 */
export function requireWorkspace(scope: TokenScope): RequestHandler {
  return (req, res, next) => {
    const principal = req.principal;
    const workspaceId = req.header("x-workspace-id");
    if (!principal || !workspaceId) {
      sendProblem(req, res, { code: "unauthorized", detail: "A valid bearer token is required." });
      return;
    }
    const denial = workspaceAccessDenial(principal, workspaceId, scope);
    if (denial) return next(denial);
    req.workspaceId = workspaceId;
    next();
  };
}

/**
 * Checks the token's scope allows a route that is not scoped to a workspace (`/tokens`: admin).
 * No workspace is read: `X-Workspace-Id`, if sent, is ignored.
 */
export function requireScope(scope: TokenScope): RequestHandler {
  return (req, res, next) => {
    const principal = req.principal;
    if (!principal) {
      sendProblem(req, res, { code: "unauthorized", detail: "A valid bearer token is required." });
      return;
    }
    if (!scopeAllows(principal.scope, scope)) return next(insufficientScope(principal, scope));
    next();
  };
}
