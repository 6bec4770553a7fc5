/**
 * The listening socket, bound first: before the data directory is locked or created, before a key
 * is generated, the database opened or a token made. A port that is taken (or a HOST that is not
 * this machine's) then stops the start at once, having done nothing, instead of after the first-run
 * work (a generated key, a migrated database, a printed token that nothing can use).
 *
 * Why bind and keep, rather than check and release: a check that binds the port and lets it go
 * races with whatever takes it next, and leaves the same late failure in that window. The socket
 * that is bound is the one the server serves on.
 *
 * Until the app is attached the socket answers for itself, so nothing reaches the API before the
 * app is ready: `/healthz` 200 (the process is alive, as the contract says: it never touches the
 * database), everything else `503 service_unavailable` + `Retry-After: 1` (the contract documents
 * 503 on every route; `/readyz` says the server is starting). Nothing is logged for these answers:
 * the request log belongs to the app.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PROBLEM_TYPE_BASE, problemTable } from "../http/problem-table.js";
import { requestIdFor } from "../logging.js";

/** The socket could not be bound: the message is for the operator (main.ts prints it). */
export class ListenError extends Error {
  override name = "ListenError";
}

export interface BoundServer {
  server: Server;
  /** `http://host:port`, with the port the kernel gave when PORT is 0. */
  url: string;
  /** From now on every request goes to `handler` (the app). */
  attach(handler: RequestListener): void;
}

/** Binds `host:port`; throws {@link ListenError} naming them and the cause when it cannot. */
export async function listenFirst(host: string, port: number): Promise<BoundServer> {
  let handler: RequestListener = answerWhileStarting;
  const server = createServer((req, res) => handler(req, res));
  server.listen(port, host);
  try {
    await once(server, "listening");
  } catch (err) {
    server.close();
    throw new ListenError(describeListenFailure(err, host, port));
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://${bracketed(host)}:${bound}`,
    attach: (app) => {
      handler = app;
    },
  };
}

function answerWhileStarting(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0]!;
  const requestId = requestIdFor(req, res);
  if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" }).end(JSON.stringify({ status: "ok" }));
    return;
  }
  const code = "service_unavailable";
  const { status, title } = problemTable[code];
  res
    .writeHead(status, { "Content-Type": "application/problem+json; charset=utf-8", "Retry-After": "1" })
    .end(
      JSON.stringify({
        type: PROBLEM_TYPE_BASE + code,
        title,
        status,
        detail: path === "/readyz" ? "The server is starting." : "The server is starting; retry shortly.",
        instance: path,
        code,
        request_id: requestId,
      }),
    );
}

/** One line for the operator: where, and why in words; the errno in parentheses. */
export function describeListenFailure(err: unknown, host: string, port: number): string {
  const where = `${bracketed(host)}:${port}`;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case "EADDRINUSE":
      return `cannot listen on ${where}: the port is already in use (EADDRINUSE). Stop what listens there, or set PORT to a free port. Nothing was started or written.`;
    case "EACCES":
      return `cannot listen on ${where}: permission denied (EACCES); ports below 1024 need privileges. Set PORT to 1024 or above. Nothing was started or written.`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: ${host} is not an address of this machine (EADDRNOTAVAIL). Set HOST to one of its addresses, 127.0.0.1 or 0.0.0.0. Nothing was started or written.`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot listen on ${where}: HOST ${host} does not resolve (${code}). Set HOST to an address, such as 127.0.0.1 or 0.0.0.0. Nothing was started or written.`;
    default:
      return `cannot listen on ${where}${typeof code === "string" ? ` (${code})` : ""}. Nothing was started or written.`;
  }
}

function bracketed(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
