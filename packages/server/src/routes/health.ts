import { Router } from "express";
import { sendProblem } from "../http/problem.js";
import { KeyCustodyError } from "../services/key-custody.js";

export interface Readiness {
  /** Resolves when the database answers; rejects with KeyCustodyError when stored passwords need a key this process lacks. */
  ping(): Promise<void>;
  /** True from the moment shutdown begins: load balancers must stop sending traffic. */
  isShuttingDown(): boolean;
}

/**
 * How long /readyz waits for the database. A probe that hangs is worse than one that fails: the
 * load balancer's own timeout would count it, and each probe would hold a connection meanwhile.
 */
export const READY_PING_TIMEOUT_MS = 2000;

class PingTimeout extends Error {
  override name = "PingTimeout";
}

/** The ping, or a PingTimeout after `ms`; the timer never outlives the answer. */
async function pingWithin(ping: () => Promise<void>, ms: number): Promise<void> {
  const pinged = (async () => ping())();
  // A ping that fails after the timeout has answered must not become an unhandled rejection.
  pinged.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PingTimeout()), ms);
  });
  try {
    await Promise.race([pinged, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(readiness: Readiness, options: { pingTimeoutMs?: number } = {}): Router {
  const router = Router();
  const pingTimeoutMs = options.pingTimeoutMs ?? READY_PING_TIMEOUT_MS;

  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  router.get("/readyz", async (req, res) => {
    if (readiness.isShuttingDown()) {
      sendProblem(req, res, { code: "service_unavailable", detail: "The server is shutting down.", retryAfter: 1 });
      return;
    }
    try {
      await pingWithin(() => readiness.ping(), pingTimeoutMs);
      res.json({ status: "ready" });
    } catch (err) {
      const detail =
        err instanceof KeyCustodyError
          ? "This server does not hold every encryption key that seals stored passwords (its log names them)."
          : err instanceof PingTimeout
            ? `The database did not answer within ${pingTimeoutMs} ms.`
            : "The database is unreachable.";
      sendProblem(req, res, { code: "service_unavailable", detail, retryAfter: 2 });
    }
  });

  return router;
}
