/**
 * The `azure_service_principal` exchange, in ACR's two steps (as `az acr login` does them):
 *
 * 1. Microsoft Entra's client-credentials grant: the service principal's client id and secret for
 *    an access token with the scope `https://containerregistry.azure.net/.default`, POSTed to
 *    `<authority>/<tenant>/oauth2/v2.0/token`. The authority is the registry cloud's fixed one
 *    (registry-protocol/azure-hosts.ts), or the operator's MODBOX_AZURE_AUTHORITY_HOST (tests,
 *    private clouds); the tenant is checked to be a GUID or a domain, so the user's input is one path segment, no more.
 *    Plain fetch: @azure/identity needs Node 22, and this is one form POST.
 * 2. ACR's `/oauth2/exchange` on the registry host: the Entra token for an ACR refresh token. The
 *    host is user input (checked to be an ACR login server), so this goes through the SSRF-guarded
 *    outbound client, never redirected.
 *
 * Runtimes log in with the refresh token as the password of the user
 * `00000000-0000-0000-0000-000000000000` (what `az acr login --expose-token` hands out).
 */
import { ExchangeError, type CredentialExchanger } from "./exchanger.js";
import type { ExchangedToken } from "./exchange-cache.js";
import { isAzureClientId, isAzureTenantId, parseAcrServer } from "../registry-protocol/azure-hosts.js";
import { parseAzureSecret } from "./azure-secret.js";
import { jwtExpiry } from "./jwt-expiry.js";
import { OutboundError } from "../registry-protocol/outbound/errors.js";
import { postRegistryForm } from "../registry-protocol/outbound/form-post.js";
import { registryErrorCodes } from "../registry-protocol/outbound/session.js";
import type { OutboundOptions } from "../registry-protocol/outbound/types.js";

export const ACR_USERNAME = "00000000-0000-0000-0000-000000000000";
export const ACR_ENTRA_SCOPE = "https://containerregistry.azure.net/.default";
/**
 * ACR's documented refresh-token lifetime (3 hours, "Azure Container Registry authentication ...
 * refresh token"), used only when the token carries no `exp`: ACR's do, and `exp` wins.
 */
export const ACR_REFRESH_TOKEN_LIFETIME_MS = 3 * 3600_000;
/** Entra's answers are small JSON documents; anything larger is not one. */
const MAX_ENTRA_ANSWER_BYTES = 64 * 1024;

export interface AzureExchangeOptions {
  /** `MODBOX_AZURE_AUTHORITY_HOST`: where Entra is asked instead of the registry cloud's authority. */
  authorityHost?: string;
  /** The operator's outbound policy: what the registry host's `/oauth2/exchange` is reached with. */
  outbound: OutboundOptions;
  /** Budget of the call to Entra (connect + answer). */
  timeoutMs: number;
  /** For the expiry of a refresh token without `exp`. */
  now: () => Date;
}

export function createAzureExchanger(options: AzureExchangeOptions): CredentialExchanger {
  return {
    async exchange({ server, secret }): Promise<ExchangedToken> {
      const acr = parseAcrServer(server);
      // Every write checks the host and the ids, so a stored credential always passes.
      if (!acr) throw new ExchangeError("the registry server is not an ACR login server");
      const stored = parseAzureSecret(secret);
      if (!isAzureTenantId(stored.tenantId) || !isAzureClientId(stored.clientId)) throw new ExchangeError("the stored tenant or client id is not valid");
      const accessToken = await entraToken(options.authorityHost ?? acr.authorityHost, stored, options.timeoutMs);
      const refreshToken = await acrRefreshToken(acr.host, stored.tenantId, accessToken, options.outbound);
      const expiresAt = jwtExpiry(refreshToken) ?? new Date(options.now().getTime() + ACR_REFRESH_TOKEN_LIFETIME_MS);
      return { username: ACR_USERNAME, password: refreshToken, expiresAt };
    },
  };
}

async function entraToken(authorityHost: string, sp: { tenantId: string; clientId: string; clientSecret: string }, timeoutMs: number): Promise<string> {
  const base = authorityHost.endsWith("/") ? authorityHost : `${authorityHost}/`;
  const url = new URL(`${encodeURIComponent(sp.tenantId)}/oauth2/v2.0/token`, base);
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: sp.clientId, client_secret: sp.clientSecret, scope: ACR_ENTRA_SCOPE });
  let status: number;
  let text: string;
  try {
    // No redirect is followed: the form carries the client secret.
    const res = await fetch(url, { method: "POST", body: form, redirect: "manual", signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const e = (err ?? {}) as { name?: unknown; cause?: { code?: unknown } };
    // A transport error's message names addresses; its kind is enough.
    const code = typeof e.cause?.code === "string" ? e.cause.code : typeof e.name === "string" ? e.name : "Error";
    throw new ExchangeError(`Microsoft Entra could not be reached (${code})`);
  }
  const body = text.length <= MAX_ENTRA_ANSWER_BYTES ? jsonObject(text) : {};
  if (status === 200 && typeof body.access_token === "string" && body.access_token !== "") return body.access_token;
  if (status === 200) throw new ExchangeError("Microsoft Entra answered without an access token");
  const error = typeof body.error === "string" ? body.error : `HTTP ${status}`;
  // The first line is Entra's reason (`AADSTS7000215: Invalid client secret provided. …`); the
  // lines after it are trace and correlation ids. It names the application, never its secret.
  const firstLine = typeof body.error_description === "string" ? body.error_description.split(/\r?\n/)[0]!.trim() : "";
  const reason = redact(firstLine, [sp.clientSecret]);
  throw new ExchangeError(`Microsoft Entra refused the service principal's client credentials: ${reason ? `${reason} ` : ""}(${error})`);
}

async function acrRefreshToken(host: string, tenantId: string, accessToken: string, outbound: OutboundOptions): Promise<string> {
  const form = new URLSearchParams({ grant_type: "access_token", service: host, tenant: tenantId, access_token: accessToken });
  let response;
  try {
    response = await postRegistryForm({ host }, "/oauth2/exchange", form, outbound);
  } catch (err) {
    if (err instanceof OutboundError) throw new ExchangeError(`${host}: the ACR token exchange could not be completed: ${err.detail}`);
    throw err;
  }
  const body = jsonObject(response.body.toString("utf8"));
  const token = body.refresh_token;
  if (response.status === 200) {
    if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) throw new ExchangeError(`${host}: the ACR token exchange answered without a refresh token`);
    return token;
  }
  // ACR answers `{"errors":[{"code":"UNAUTHORIZED","message":"…"}]}`; its message explains
  // (a missing role, an unknown tenant) and never repeats the access token, which is cut out anyway.
  const codes = registryErrorCodes(response.body);
  const messages = Array.isArray(body.errors)
    ? body.errors.map((e: unknown) => (typeof e === "object" && e !== null ? (e as { message?: unknown }).message : undefined)).filter((m): m is string => typeof m === "string")
    : [];
  const message = redact((messages[0] ?? (typeof body.error === "string" ? body.error : "")).split(/\r?\n/)[0]!.slice(0, 300), [accessToken]);
  const what = [message, codes.length > 0 ? `(${codes.join(", ")})` : ""].filter(Boolean).join(" ");
  throw new ExchangeError(`${host} refused to exchange the Microsoft Entra token for a registry token: HTTP ${response.status}${what ? `: ${what}` : ""}`);
}

function jsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join("[redacted]");
  return out;
}
