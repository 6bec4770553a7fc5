/**
 * Doubles for the outbound layer's tests: real HTTPS, plain-HTTP and TCP servers on 127.0.0.1 that record
 * what reaches them, a fake DNS, a process-wide
 * socket-connect counter, and registry/token-service doubles speaking the API v2 protocol.
 * Every server listens on 127.0.0.1 only; callers close them.
 */
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import net, { type AddressInfo, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { TestCertificate } from "./certificates.js";
import type { LookupAddress, LookupFn } from "./server.js";

export interface SeenRequest {
  method: string;
  url: string;
  host: string | undefined;
  servername: string | undefined;
  authorization: string | undefined;
}

export interface TestServer {
  port: number;
  /** TCP connections accepted so far. */
  connections: () => number;
  requests: SeenRequest[];
  close: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTPS server on 127.0.0.1 that records every request. */
export function startHttpsServer(tls: TestCertificate, handler: Handler): Promise<TestServer> {
  const server = createHttpsServer({ key: tls.key, cert: tls.cert });
  server.on("tlsClientError", () => undefined);
  return serveRecording(server, handler, (req) => servername(req.socket as TLSSocket));
}

/** A real plain-HTTP server on 127.0.0.1 that records every request (a registry on the operator's insecure list). */
export function startHttpServer(handler: Handler): Promise<TestServer> {
  return serveRecording(createHttpServer(), handler, () => undefined);
}

/** Records each request (and counts connections) before `handler` answers it, on 127.0.0.1. */
async function serveRecording(
  server: HttpServer,
  handler: Handler,
  servernameOf: (req: IncomingMessage) => string | undefined,
): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      host: req.headers.host,
      servername: servernameOf(req),
      authorization: req.headers.authorization,
    });
    handler(req, res);
  });
  server.on("connection", (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests,
    close: () => closeServer(server, sockets),
  };
}

/** The SNI name a TLS client sent (Node sets it on the server-side socket; untyped). */
function servername(socket: TLSSocket): string | undefined {
  const value: unknown = (socket as TLSSocket & { servername?: unknown }).servername;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * A plain TCP server on 127.0.0.1 that counts connections. `hang`: keep the socket open and
 * silent (a TLS handshake that never completes); otherwise close it at once.
 */
export async function startTcpServer(options: { hang: boolean }): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    if (!options.hang) socket.destroy();
  });
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests: [],
    close: () => closeServer(server, sockets),
  };
}

function listen(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
}

function closeServer(server: net.Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface FakeLookup extends LookupFn {
  calls: string[];
}

/** A DNS double: name → addresses (in order); unknown names fail like getaddrinfo. */
export function fakeLookup(table: Readonly<Record<string, readonly string[]>>): FakeLookup {
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const answer = table[hostname];
    if (answer === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    }
    return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
}

/**
 * Counts every client socket `connect` in this process (TLS sockets included), whatever the
 * address: the proof that a refused target saw no connection attempt at all.
 */
export function countSocketConnects(): { count: () => number; restore: () => void } {
  const original = net.Socket.prototype.connect;
  let count = 0;
  net.Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    count++;
    return (original as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof original;
  return {
    count: () => count,
    restore: () => {
      net.Socket.prototype.connect = original;
    },
  };
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export interface Manifest {
  body: string;
  mediaType: string;
  digest: string;
}

export interface RegistryDoubleOptions {
  /** `basic`, `bearer` (needs `realm`), `anonymous`, or a raw `WWW-Authenticate` value (or none). */
  auth: "basic" | "bearer" | "anonymous" | { challenge: string | null };
  realm?: string;
  username?: string;
  password?: string;
  /** `repo:tag` and `repo@digest` → manifest. */
  manifests?: ReadonlyMap<string, Manifest>;
  /** Leave out `Docker-Content-Digest` (old registries). */
  omitDigest?: boolean;
  /** Validates bearer tokens (from the token service double). */
  tokens?: TokenStore;
}

/** A registry API v2 double: `/v2/` and manifests, Basic or Bearer, errors in the v2 format. */
export function registryHandler(options: RegistryDoubleOptions): Handler {
  const unauthorized = (res: ServerResponse) => {
    const headers: Record<string, string> = {};
    if (options.auth === "basic") headers["www-authenticate"] = `Basic realm="test-realm"`;
    if (options.auth === "bearer") headers["www-authenticate"] = `Bearer realm="${options.realm}",service="test-registry"`;
    if (typeof options.auth === "object" && options.auth.challenge !== null) {
      headers["www-authenticate"] = options.auth.challenge;
    }
    json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, headers);
  };
  const allowed = (req: IncomingMessage, repository: string | null): boolean => {
    if (options.auth === "anonymous") return true;
    const authorization = req.headers.authorization ?? "";
    if (options.auth === "basic") return authorization === basic(options.username ?? "", options.password ?? "");
    if (options.auth === "bearer") {
      const grant = options.tokens?.get(authorization.replace(/^Bearer /, ""));
      if (grant === undefined) return false;
      return repository === null || grant.scopes.includes(`repository:${repository}:pull`);
    }
    return false;
  };

  return (req, res) => {
    const path = new URL(req.url ?? "/", "https://x").pathname;
    if (path === "/v2/") {
      if (!allowed(req, null)) return unauthorized(res);
      return json(res, 200, {});
    }
    const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (match === null) return json(res, 404, { errors: [{ code: "NOT_FOUND" }] });
    const [, repository = "", reference = ""] = match;
    if (!allowed(req, repository)) return unauthorized(res);
    const manifest = options.manifests?.get(reference.includes(":") ? `${repository}@${reference}` : `${repository}:${reference}`);
    if (manifest === undefined) return json(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] });
    const headers: Record<string, string> = {
      "content-type": manifest.mediaType,
      "content-length": String(Buffer.byteLength(manifest.body)),
    };
    if (!options.omitDigest) headers["docker-content-digest"] = manifest.digest;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : manifest.body);
  };
}

export interface Grant {
  scopes: string[];
  anonymous: boolean;
}

export type TokenStore = Map<string, Grant>;

/**
 * A token service double (the Docker Hub / distribution flow): Basic credentials → a token for
 * the requested scopes; no credentials → an anonymous token limited to `publicRepositories`;
 * wrong credentials → 401.
 */
export function tokenHandler(options: {
  username: string;
  password: string;
  service: string;
  tokens: TokenStore;
  publicRepositories?: readonly string[];
  field?: "token" | "access_token";
}): Handler {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "https://x");
    if (url.searchParams.get("service") !== options.service) return json(res, 400, { details: "bad service" });
    const scopes = url.searchParams.getAll("scope");
    const authorization = req.headers.authorization;
    let anonymous = false;
    if (authorization === undefined) {
      anonymous = true;
      const allowed = scopes.every((s) => (options.publicRepositories ?? []).some((r) => s === `repository:${r}:pull`));
      if (!allowed) return json(res, 401, { details: "authentication required" });
    } else if (authorization !== basic(options.username, options.password)) {
      return json(res, 401, { details: "incorrect username or password" });
    }
    const token = randomBytes(24).toString("base64url");
    options.tokens.set(token, { scopes, anonymous });
    json(res, 200, { [options.field ?? "token"]: token, expires_in: 300 });
  };
}

// The server certificate the HTTPS doubles present, re-exported so an outbound test needs one import.
export { makeCertificate, TEST_NAMES, type TestCertificate } from "./certificates.js";
