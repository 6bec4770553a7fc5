import type { Request } from "express";
import type { Principal } from "../auth/authenticator.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `authenticate`. */
      principal?: Principal;
      /** Set by `requireWorkspace` once the token is known to be granted it. */
      workspaceId?: string;
    }
  }
}

/** The workspace a request is scoped to; only callable behind `requireWorkspace`. */
export function workspaceOf(req: Request): string {
  if (!req.workspaceId) throw new Error("workspaceOf() called on a route without requireWorkspace");
  return req.workspaceId;
}
