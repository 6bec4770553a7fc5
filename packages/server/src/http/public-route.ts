import type { Router } from "express";
import { DomainError } from "../errors.js";
import { sendRepresentation, type StaticRepresentation } from "./static-representation.js";

/**
 * A route anyone may read, mounted before authentication: GET, and HEAD (Express hands a HEAD to
 * the GET handler; Node sends no body). Any other method gets the 405 every route of the contract
 * answers (same problem, `Allow: GET, HEAD`), without asking for a token first: the route needs
 * none, so a 401 would send the client after the wrong fix.
 */
export function servePublic(router: Router, path: string, representation: StaticRepresentation): void {
  router
    .route(path)
    .get((req, res) => sendRepresentation(req, res, representation))
    .all((_req, res, next) => {
      res.setHeader("Allow", "GET, HEAD");
      next(new DomainError("method_not_allowed", "This method is not allowed on this route."));
    });
}
