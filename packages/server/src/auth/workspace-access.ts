import type { TokenScope } from "../db/records.js";
import { DomainError } from "../errors.js";
import type { Principal } from "./authenticator.js";

/**
 * Whether a token's scope may do what a route needs. Scopes are not a ladder: `admin` includes
 * `workspace` (an admin token may use the workspace routes of every workspace: the embedded
 * server's first token is an admin token, and it is the token of the README's walk-through), but
 * not `provisioner`: decrypted credentials are handed out to provisioner tokens only, so that
 * every hand-out is audited under a token made for it (an admin can make one).
 */
export function scopeAllows(has: TokenScope, needs: TokenScope): boolean {
  return has === needs || (has === "admin" && needs === "workspace");
}

/** The 403 of a token whose scope does not allow an operation. */
export function insufficientScope(principal: Principal, needs: TokenScope): DomainError<"insufficient_scope"> {
  const wanted = { workspace: "a workspace (or admin) token", provisioner: "a provisioner token", admin: "an admin token" }[needs];
  return new DomainError("insufficient_scope", `This operation needs ${wanted}; this token's scope is ${principal.scope}.`);
}

/**
 * Why a principal may not act in a workspace with a scope, or null when it may. Shared by the
 * workspace routes' middleware and the pull service, which decides (and audits) the
 * provisioner's access itself.
 */
export function workspaceAccessDenial(
  principal: Principal,
  workspaceId: string,
  scope: TokenScope,
): DomainError<"insufficient_scope" | "workspace_forbidden"> | null {
  if (!scopeAllows(principal.scope, scope)) return insufficientScope(principal, scope);
  if (principal.workspaceIds && !principal.workspaceIds.has(workspaceId)) {
    return new DomainError("workspace_forbidden", "This token is not granted the requested workspace.");
  }
  return null;
}
