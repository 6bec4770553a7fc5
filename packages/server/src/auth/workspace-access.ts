import type { TokenScope } from "../db/records.js";
import { DomainError } from "../errors.js";
import type { Principal } from "./authenticator.js";

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
