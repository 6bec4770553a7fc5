import type { RequestHandler } from "express";
import type { Authenticator, Principal } from "../auth/authenticator.js";
import { DomainError } from "../errors.js";
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

/** Why a principal may not act in a workspace with a scope, or null when it may. */
export function workspaceAccessDenial(
  principal: Principal,
  workspaceId: string,
  scope: TokenScope,
): DomainError | null {
  if (principal.scope !== scope) {
    return new DomainError(
      "insufficient_scope",
      `This operation needs a ${scope} token; this token's scope is ${principal.scope}.`,
    );
  }
  if (principal.workspaceIds && !principal.workspaceIds.has(workspaceId)) {
    return new DomainError("workspace_forbidden", "This token is not granted the requested workspace.");
  }
  return null;
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
