/**
 * A Docker registry token server (the Bearer flow of Docker Hub, GHCR, GitLab) for tests: an
 * in-process `node:https` server on 127.0.0.1 (free port) that issues the JWTs CNCF
 * distribution 2.8 accepts with
 *
 *   auth: { token: { realm: <url>, service: <service>, issuer: <issuer>, rootcertbundle: <signing cert> } }
 *
 * `GET /token?service=…&scope=repository:org/image:pull,push[&scope=…]` with
 * `Authorization: Basic base64(user:password)`:
 * - unknown user / wrong password / no credentials → 401 (JSON error body);
 * - `service` given but not ours → 400;
 * - otherwise 200 `{"token","access_token","expires_in":300,"issued_at"}`. The JWT is RS256-signed
 *   with the signing key, its header carries the signing certificate (DER, standard base64) in
 *   `x5c`, claims `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti` and `access`: only the requested
 *   actions, only on the repositories the user may access (`setAccess`, default all), an entry
 *   with no actions when nothing is granted (the registry then answers 401 insufficient_scope).
 *
 * Everything runs on the test process's event loop: drive clients (skopeo) asynchronously
 * (`execFile`, never `execFileSync`) or the token request can never be answered.
 */
import { createHash, createSign, randomUUID, timingSafeEqual, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";

export interface TokenServerOptions {
  /** TLS certificate + key (PEM) the server listens with (the test CA: 127.0.0.1). */
  tls: { certPem: string; keyPem: string };
  /** Key (PEM) + self-signed certificate (PEM) the JWTs are signed with (registry `rootcertbundle`). */
  signing: { certPem: string; keyPem: string };
  /** `aud` claim; must equal the registry's `auth.token.service`. Default `test-registry`. */
  service?: string;
  /** `iss` claim; must equal the registry's `auth.token.issuer`. Default `test-issuer`. */
  issuer?: string;
  /** Initial user table, user → password. */
  users?: Record<string, string>;
  /** Token lifetime in seconds (`exp - iat`, `expires_in`). Default 300. */
  expiresInSeconds?: number;
}

/**
 * What a user may access. `repositories`: names, `*` matches any run of characters (also `/`),
 * e.g. `["org/*"]`; undefined = every repository (and `registry:catalog:*`). `actions`: the actions
 * that may be granted (`pull`, `push`, `delete`, `*`); undefined = all of them.
 */
export interface TokenAccessPolicy {
  repositories?: string[];
  actions?: string[];
}

export interface TokenAccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** One request the token server answered (no secrets). */
export interface TokenRequestRecord {
  path: string;
  /** The Basic user name sent, if any (whether or not the password was right). */
  user?: string;
  scopes: string[];
  status: number;
  /** The `access` claim of the issued token (status 200 only). */
  access?: TokenAccessEntry[];
}

export interface TokenServer {
  /** The realm: `https://127.0.0.1:<port>/token`. */
  realm: string;
  port: number;
  service: string;
  issuer: string;
  /** Adds a user or changes a password; effective for the next token request. */
  setPassword(user: string, password: string): void;
  /** Removes a user: its next token request gets 401. */
  removeUser(user: string): void;
  /** Restricts what a user's tokens grant; `undefined` restores the default (everything). */
  setAccess(user: string, policy: TokenAccessPolicy | undefined): void;
  /** Number of HTTP requests received (any path, any outcome) since start / `resetCounters()`. */
  readonly requestCount: number;
  /** Every answered request, oldest first (since start / `resetCounters()`). */
  readonly requests: readonly TokenRequestRecord[];
  resetCounters(): void;
  /** Closes the server (and open connections). Safe to call twice. */
  stop(): Promise<void>;
}

const ALL_ACTIONS = ["pull", "push", "delete", "*"];

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * `type:name:actions` (name may contain `:`, e.g. a host:port prefix); space-separated lists too.
 * Repeated scopes for one resource are merged (skopeo sends the challenge's scope and its own,
 * often the same one twice).
 */
export function parseScopes(scopeParams: string[]): TokenAccessEntry[] {
  const entries: TokenAccessEntry[] = [];
  const add = (entry: TokenAccessEntry) => {
    const existing = entries.find((e) => e.type === entry.type && e.name === entry.name);
    if (existing) existing.actions = [...new Set([...existing.actions, ...entry.actions])];
    else entries.push({ ...entry, actions: [...new Set(entry.actions)] });
  };
  for (const param of scopeParams) {
    for (const scope of param.split(" ").filter(Boolean)) {
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      if (first <= 0 || last === first) continue; // malformed: ignored, as distribution's auth servers do
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(",").filter(Boolean);
      if (!name) continue;
      add({ type, name, actions });
    }
  }
  return entries;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

function grant(requested: TokenAccessEntry, policy: TokenAccessPolicy | undefined): TokenAccessEntry {
  const allowedActions = policy?.actions ?? ALL_ACTIONS;
  const repoAllowed =
    policy?.repositories === undefined
      ? true
      : requested.type === "repository" && policy.repositories.some((glob) => globToRegExp(glob).test(requested.name));
  const actions = repoAllowed
    ? requested.actions.filter((a) => allowedActions.includes(a) || allowedActions.includes("*"))
    : [];
  return { type: requested.type, name: requested.name, actions };
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const service = options.service ?? "test-registry";
  const issuer = options.issuer ?? "test-issuer";
  const expiresIn = options.expiresInSeconds ?? 300;
  const users = new Map<string, string>(Object.entries(options.users ?? {}));
  const policies = new Map<string, TokenAccessPolicy>();
  const x5c = new X509Certificate(options.signing.certPem).raw.toString("base64"); // DER, standard base64
  const jwtHeader = base64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [x5c] }));
  let requestCount = 0;
  let requests: TokenRequestRecord[] = [];

  const sign = (user: string, access: TokenAccessEntry[]): { token: string; issuedAt: Date } => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, sub: user, aud: service, exp: now + expiresIn, nbf: now, iat: now, jti: randomUUID(), access };
    const signingInput = `${jwtHeader}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign("RSA-SHA256").update(signingInput).sign(options.signing.keyPem);
    return { token: `${signingInput}.${base64url(signature)}`, issuedAt: new Date(now * 1000) };
  };

  const server: Server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (req, res) => {
    requestCount += 1;
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const scopeParams = url.searchParams.getAll("scope");
    const credentials = parseBasic(req.headers.authorization);
    const record: TokenRequestRecord = { path: url.pathname, scopes: scopeParams, status: 0 };
    if (credentials) record.user = credentials.user;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      requests.push(record);
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      send(status, { errors: [{ code, message, detail: null }], details: message }, headers);

    if (url.pathname !== "/token") return error(404, "NOT_FOUND", "not found");
    if (req.method !== "GET") return error(405, "UNSUPPORTED", "only GET is supported", { allow: "GET" });
    const wanted = url.searchParams.get("service");
    if (wanted !== null && wanted !== service) {
      return error(400, "INVALID_REQUEST", `unknown service ${JSON.stringify(wanted)}`);
    }
    const known = credentials ? users.get(credentials.user) : undefined;
    if (!credentials || known === undefined || !sameSecret(known, credentials.password)) {
      return error(401, "UNAUTHORIZED", "authentication required: incorrect username or password", {
        "www-authenticate": 'Basic realm="test-token-server"',
      });
    }
    const access = parseScopes(scopeParams).map((entry) => grant(entry, policies.get(credentials.user)));
    record.access = access;
    const { token, issuedAt } = sign(credentials.user, access);
    send(200, { token, access_token: token, expires_in: expiresIn, issued_at: issuedAt.toISOString() });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;

  return {
    realm: `https://127.0.0.1:${port}/token`,
    port,
    service,
    issuer,
    setPassword(user, password) {
      users.set(user, password);
    },
    removeUser(user) {
      users.delete(user);
    },
    setAccess(user, policy) {
      if (policy) policies.set(user, { ...policy });
      else policies.delete(user);
    },
    get requestCount() {
      return requestCount;
    },
    get requests() {
      return requests;
    },
    resetCounters() {
      requestCount = 0;
      requests = [];
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
