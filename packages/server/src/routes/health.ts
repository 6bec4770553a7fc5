import { Router } from "express";
import { sendProblem } from "../http/problem.js";
import { KeyCustodyError } from "../services/key-custody.js";

export interface Readiness {
  /** Resolves when the database answers; rejects with KeyCustodyError when stored passwords need a key this process lacks. */
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
    } catch (err) {
      const detail =
        err instanceof KeyCustodyError
          ? "This server does not hold every encryption key that seals stored passwords (its log names them)."
          : "The database is unreachable.";
      sendProblem(req, res, { code: "service_unavailable", detail, retryAfter: 2 });
    }
  });

  return router;
}
