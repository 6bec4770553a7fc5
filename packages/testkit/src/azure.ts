/**
 * A fake of the two services an `azure_service_principal` registry needs, on 127.0.0.1:
 *
 * - Microsoft Entra's token endpoint (`POST /<tenant>/oauth2/v2.0/token`, the client-credentials
 *   grant), plain HTTP, for MODBOX_AZURE_AUTHORITY_HOST. It checks the tenant, client id, secret
 *   and scope of a registered service principal and answers an access token, or Entra's error
 *   shapes (`AADSTS…` descriptions followed by trace lines, as Entra writes them).
 * - ACR's `POST /oauth2/exchange` (HTTPS with a throwaway certificate for 127.0.0.1, which the
 *   test's outbound seam sends the registry host's exchange to): an access token this fake issued,
 *   for the tenant it was issued in, becomes the refresh token the test chose (the password its
 *   registry holds for `00000000-0000-0000-0000-000000000000`), unless the principal was denied
 *   the registry (`{"errors":[{"code":"UNAUTHORIZED",…}]}`).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { makeCertificate } from "./certificates.js";

export const ACR_SCOPE = "https://containerregistry.azure.net/.default";

export interface FakeAzure {
  /** `http://127.0.0.1:<port>`: the Entra authority (MODBOX_AZURE_AUTHORITY_HOST). */
  authorityHost: string;
  /** `127.0.0.1:<port>`: where ACR's `/oauth2/exchange` is served (HTTPS, `caCertPem`). */
  acrHost: string;
  caCertPem: string;
  addServicePrincipal(tenantId: string, clientId: string, clientSecret: string): void;
  /** A new secret: the old one is refused from then on, as after `az ad sp credential reset`. */
  resetSecret(clientId: string, clientSecret: string): void;
  /** What ACR's exchange answers from now on (a token with another `exp`, or none). */
  setRefreshToken(token: string): void;
  /** The principal's role on the registry is removed: ACR refuses its Entra tokens. */
  denyRegistry(clientId: string): void;
  entraCalls: Array<{ tenant: string; clientId: string | null; scope: string | null; status: number }>;
  acrCalls: Array<{ service: string | null; tenant: string | null; status: number }>;
  close(): Promise<void>;
}

/** An unsigned JWT-shaped ACR refresh token with `exp` (seconds) when given, as ACR's carry one. */
export function fakeAcrRefreshToken(exp?: number): string {
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part({ jti: randomBytes(8).toString("hex"), grant_type: "refresh_token", ...(exp !== undefined && { exp }) })}.${randomBytes(16).toString("base64url")}`;
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
  });
}

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const trace = () => `\r\nTrace ID: ${randomBytes(16).toString("hex")}\r\nCorrelation ID: ${randomBytes(16).toString("hex")}\r\nTimestamp: ${new Date().toISOString()}`;

export async function startFakeAzure(options: { refreshToken: string }): Promise<FakeAzure> {
  const principals = new Map<string, { tenantId: string; secret: string; denied: boolean }>();
  const issued = new Map<string, { tenantId: string; clientId: string }>();
  let refreshToken = options.refreshToken;
  const entraCalls: FakeAzure["entraCalls"] = [];
  const acrCalls: FakeAzure["acrCalls"] = [];

  const entra = createServer(async (req, res) => {
    const match = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(req.url ?? "");
    const form = await readForm(req);
    const call = { tenant: decodeURIComponent(match?.[1] ?? ""), clientId: form.get("client_id"), scope: form.get("scope"), status: 400 };
    entraCalls.push(call);
    const answer = (status: number, body: object) => {
      call.status = status;
      json(res, status, body);
    };
    if (req.method !== "POST" || !match) return answer(404, { error: "not_found" });
    if (form.get("grant_type") !== "client_credentials") return answer(400, { error: "unsupported_grant_type", error_description: `AADSTS70003: The app requested an unsupported grant type.${trace()}` });
    const principal = principals.get(call.clientId ?? "");
    if (!principal || principal.tenantId !== call.tenant) {
      return answer(400, { error: "unauthorized_client", error_description: `AADSTS700016: Application with identifier '${call.clientId}' was not found in the directory '${call.tenant}'.${trace()}` });
    }
    if (form.get("client_secret") !== principal.secret) {
      return answer(401, { error: "invalid_client", error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.${trace()}` });
    }
    if (call.scope !== ACR_SCOPE) return answer(400, { error: "invalid_scope", error_description: `AADSTS70011: The provided value for scope is not valid.${trace()}` });
    const accessToken = `entra.${randomBytes(24).toString("base64url")}`;
    issued.set(accessToken, { tenantId: principal.tenantId, clientId: call.clientId! });
    answer(200, { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: accessToken });
  });

  const tls = makeCertificate();
  const acr = createHttpsServer({ key: tls.key, cert: tls.cert }, async (req, res) => {
    const form = await readForm(req);
    const call = { service: form.get("service"), tenant: form.get("tenant"), status: 400 };
    acrCalls.push(call);
    const answer = (status: number, body: object) => {
      call.status = status;
      json(res, status, body);
    };
    if (req.method !== "POST" || req.url !== "/oauth2/exchange") return answer(404, { errors: [{ code: "NOT_FOUND", message: "not found" }] });
    if (form.get("grant_type") !== "access_token") return answer(400, { errors: [{ code: "UNSUPPORTED", message: "grant_type must be access_token" }] });
    const grant = issued.get(form.get("access_token") ?? "");
    if (!grant || grant.tenantId !== call.tenant) return answer(401, { errors: [{ code: "UNAUTHORIZED", message: "the access token is invalid or was issued in another tenant" }] });
    if (principals.get(grant.clientId)?.denied) {
      return answer(401, { errors: [{ code: "UNAUTHORIZED", message: `client '${grant.clientId}' is not authorized to access the registry` }] });
    }
    answer(200, { refresh_token: refreshToken });
  });
  acr.on("tlsClientError", () => undefined);

  await Promise.all([entra, acr].map((s) => new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))));
  const close = (s: typeof entra | typeof acr) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    authorityHost: `http://127.0.0.1:${(entra.address() as AddressInfo).port}`,
    acrHost: `127.0.0.1:${(acr.address() as AddressInfo).port}`,
    caCertPem: tls.cert,
    addServicePrincipal: (tenantId, clientId, secret) => void principals.set(clientId, { tenantId, secret, denied: false }),
    setRefreshToken: (token) => void (refreshToken = token),
    resetSecret: (clientId, secret) => {
      const p = principals.get(clientId);
      if (p) p.secret = secret;
    },
    denyRegistry: (clientId) => {
      const p = principals.get(clientId);
      if (p) p.denied = true;
    },
    entraCalls,
    acrCalls,
    close: async () => {
      await Promise.all([close(entra), close(acr)]);
    },
  };
}
