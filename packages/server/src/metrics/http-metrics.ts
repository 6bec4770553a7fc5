import type { Request, RequestHandler } from "express";
import type { Histogram } from "prom-client";
import type { HttpLabel } from "./registry.js";

/** The route of a request that matched none (a 404, a 401 before the contract was consulted). */
export const UNMATCHED_ROUTE = "unmatched";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/**
 * The route as a template, never as requested: the contract's path
 * (`/registries/{registry_id}`, which express-openapi-validator puts on `req.openapi`) for the
 * routes it validated, the Express route's own path for the public ones answered before it
 * (`/healthz`, `/docs`: no parameters), and {@link UNMATCHED_ROUTE} for everything else. So the
 * label takes as many values as there are routes, whatever ids or paths clients send.
 */
export function routeLabel(req: Request): string {
  const template = (req as { openapi?: { openApiRoute?: unknown } }).openapi?.openApiRoute;
  if (typeof template === "string") return template;
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === "string" ? path : UNMATCHED_ROUTE;
}

/** Node's parser already refuses unknown methods; the rest of its list is folded into one value. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "other";
}

/**
 * Times every request from the moment it reaches the app until its answer is handed to the
 * socket (`finish`), and observes it once: a closure and one histogram update per request, no
 * I/O. A request whose client goes away before the answer is complete is not observed. Mounted
 * first, and only when metrics are on.
 */
export function httpMetrics(histogram: Histogram<HttpLabel>): RequestHandler {
  return (req, res, next) => {
    const start = performance.now();
    res.once("finish", () => {
      histogram.observe(
        { method: methodLabel(req.method), route: routeLabel(req), status: String(res.statusCode) },
        (performance.now() - start) / 1000,
      );
    });
    next();
  };
}
