import type { ErrorRequestHandler, Request, RequestHandler } from "express";

/**
 * HEAD on every GET route (RFC 9110 §9.3.2: the GET's status and headers, no body).
 *
 * The contract lists GET operations only, and express-openapi-validator looks operations up by
 * `req.method`, so it answers a HEAD with 405. Express itself routes a HEAD to the GET handler and
 * Node sends no body for it. So the validator sees the request as the GET it stands for
 * (`presentHeadAsGet`, just before it), and right after it the method is HEAD again
 * (`restoreHead`), on success and on error alike: the routes, the error handler and the request
 * log all see HEAD. Everything the validator checks (the token was checked before it) holds for
 * the HEAD exactly as for the GET; a response it validates is the GET's body, which Node drops.
 */
const PRESENTED_AS_GET = Symbol("modbox.headPresentedAsGet");

type MarkedRequest = Request & { [PRESENTED_AS_GET]?: true };

export const presentHeadAsGet: RequestHandler = (req, _res, next) => {
  if (req.method === "HEAD") {
    (req as MarkedRequest)[PRESENTED_AS_GET] = true;
    req.method = "GET";
  }
  next();
};

function restore(req: Request): void {
  const marked = req as MarkedRequest;
  if (marked[PRESENTED_AS_GET]) {
    delete marked[PRESENTED_AS_GET];
    req.method = "HEAD";
  }
}

/** Mount right after the validator: the first for requests it passed, the second for those it refused. */
export const restoreHead: [RequestHandler, ErrorRequestHandler] = [
  (req, _res, next) => {
    restore(req);
    next();
  },
  (err, req, _res, next) => {
    restore(req);
    next(err);
  },
];

/**
 * The `Allow` of a 405, as the validator lists the contract's methods: a route that allows GET
 * allows HEAD too.
 */
export function allowWithHead(allow: string): string {
  const methods = allow.split(",").map((m) => m.trim()).filter(Boolean);
  return methods.includes("GET") && !methods.includes("HEAD") ? [...methods, "HEAD"].join(", ") : allow;
}
