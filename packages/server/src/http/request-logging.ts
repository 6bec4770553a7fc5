import type express from "express";
import type { Logger } from "pino";
import { pinoHttp } from "pino-http";
import { requestIdFor, requestLogSerializers } from "../logging.js";

/**
 * At `info` (and below), pino-http logs every request. Above it (`warn`, `error`), pino-http would
 * still build a child logger, serializers and listeners per request to log nothing but failures
 * (5–9 % of a request's CPU, BENCHMARKS.md): a tiny middleware keeps the request id and logs only
 * the failures, in the same shape and at the same level pino-http would.
 */
export function requestLogging(logger: Logger): express.RequestHandler {
  if (logger.isLevelEnabled("info")) {
    return pinoHttp({
      logger,
      genReqId: requestIdFor,
      serializers: requestLogSerializers,
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500
          ? "error"
          : // Stryker disable next-line StringLiteral: pino-http logs at info any level it does not know
            "info",
    });
  }
  const logErrors = logger.isLevelEnabled("error");
  return (req, res, next) => {
    const id = requestIdFor(req, res);
    (req as { id?: unknown }).id = id;
    if (logErrors) {
      const start = performance.now();
      res.once("finish", () => {
        const err = (res as { err?: unknown }).err;
        if (err === undefined && res.statusCode < 500) return;
        logger.error(
          {
            req: requestLogSerializers.req({ id, method: req.method, url: req.originalUrl }),
            res: requestLogSerializers.res(res),
            // pino leaves out a field that is undefined.
            err,
            responseTime: Math.round(performance.now() - start),
          },
          err !== undefined ? "request errored" : "request completed",
        );
      });
    }
    next();
  };
}
