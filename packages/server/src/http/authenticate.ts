import type { RequestHandler } from "express";
import type { Authenticator } from "../auth/authenticator.js";
import { workspaceAccessDenial } from "../auth/workspace-access.js";
import type { TokenScope } from "../db/records.js";
import { sendProblem } from "./problem.js";
import "./request-context.js";

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;

/** Resolves `Authorization: Bearer mbx_…` to a principal, or answers 401. */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const match = BEARER.exec(req.headers.authorization ?? "");
    const principal = match ? await authenticator(match[1]!) : null;
    if (!principal) {
      sendProblem(req, res, { code: "unauthorized", detail: "A valid bearer token is required." });
      return;
    }
    req.principal = principal;
    next();
  };
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
