import { Router } from "express";
import { sendProblem } from "../http/problem.js";

export interface Readiness {
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  /** True from the moment shutdown begins: load balancers must stop sending traffic. */
  isShuttingDown(): boolean;
}

export function healthRoutes(readiness: Readiness): Router {
  const router = Router();

  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  router.get("/readyz", async (req, res) => {
    if (readiness.isShuttingDown()) {
      sendProblem(req, res, { code: "service_unavailable", detail: "The server is shutting down.", retryAfter: 1 });
      return;
    }
    try {
      await readiness.ping();
      res.json({ status: "ready" });
    } catch {
      sendProblem(req, res, { code: "service_unavailable", detail: "The database is unreachable.", retryAfter: 2 });
    }
  });

  return router;
}
