import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export const METRICS_PATH = "/metrics";

/** The metrics listener could not listen (its port taken, its address not this machine's). */
export class MetricsListenError extends Error {
  override name = "MetricsListenError";
  readonly code: string | undefined;
  constructor(host: string, port: number, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(
      `Cannot listen for metrics on ${host}:${port} (MODBOX_METRICS_HOST, MODBOX_METRICS_PORT)${typeof code === "string" ? `: ${code}` : ""}.`,
      { cause },
    );
    this.code = typeof code === "string" ? code : undefined;
  }
}

export interface MetricsListener {
  url: string;
  /** Stops accepting and closes every connection (a scraper keeps its connection alive). */
  close(): Promise<void>;
}

/**
 * The Prometheus text of `registry` on a listener of its own (`MODBOX_METRICS_PORT`), never on the
 * API's: `GET /metrics` (and HEAD), nothing else. It has no token, so it listens on a private
 * address (`MODBOX_METRICS_HOST`, 127.0.0.1 by default); what it says holds no id, name or secret.
 */
export async function startMetricsListener(
  registry: Registry,
  options: { host: string; port: number; onError: (err: unknown) => void },
): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`Not found: metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("Method not allowed\n");
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        options.onError(err);
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("Metrics could not be collected\n");
      },
    );
  });
  server.listen(options.port, options.host);
  // A listen error (EADDRINUSE, EADDRNOTAVAIL) stops the start, naming the variables to fix.
  await once(server, "listening").catch((err: unknown) => {
    throw new MetricsListenError(options.host, options.port, err);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}${METRICS_PATH}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
