/**
 * The `gcp_service_account` exchange: a service account's JSON key for an OAuth access token
 * (scope `cloud-platform`), with Google's own library (a JWT assertion signed RS256 with the key,
 * posted to Google's token endpoint). Registries take the token as the password of the user
 * `oauth2accesstoken`.
 *
 * The key's `token_uri` is user input: a key naming another endpoint is refused when it is saved
 * (cloud-registry-input.ts), and the library posts to Google's endpoint whatever the key says.
 * Only the operator may send the exchange elsewhere (MODBOX_GCP_TOKEN_ENDPOINT: tests, private
 * clouds); the assertion's audience stays Google's.
 */
import { JWT } from "google-auth-library";
import type { ExchangedToken } from "./exchange-cache.js";
import { ExchangeError, type CredentialExchanger } from "./exchanger.js";

export const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
export const GCP_USERNAME = "oauth2accesstoken";

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
}

/** The key's parts, or why it is not a service-account key Google would take (never quoting it). */
export function parseServiceAccountKey(text: string): { ok: true; key: ServiceAccountKey } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Never the SyntaxError: V8 quotes the input in its message.
    return { ok: false, reason: "must be a service-account JSON key (it is not JSON)" };
  }
  const key = (typeof value === "object" && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  if (key.type !== "service_account" || typeof key.client_email !== "string" || typeof key.private_key !== "string" || !key.private_key.includes("PRIVATE KEY")) {
    return { ok: false, reason: 'must be a service-account JSON key ("type": "service_account", with client_email and private_key)' };
  }
  if (key.token_uri !== undefined && key.token_uri !== GOOGLE_TOKEN_URI) {
    return { ok: false, reason: `must name Google's token endpoint as its token_uri (${GOOGLE_TOKEN_URI}): this server sends a signed assertion nowhere else` };
  }
  return { ok: true, key: { clientEmail: key.client_email, privateKey: key.private_key } };
}

export function createGcpExchanger(options: { tokenEndpoint?: string; timeoutMs: number }): CredentialExchanger {
  return {
    async exchange({ secret }): Promise<ExchangedToken> {
      const parsed = parseServiceAccountKey(secret);
      // Every write checks the key, so a stored one always parses.
      if (!parsed.ok) throw new ExchangeError(`the stored service-account key ${parsed.reason}`);
      const client = new JWT({ email: parsed.key.clientEmail, key: parsed.key.privateKey, scopes: [CLOUD_PLATFORM] });
      client.transporter.interceptors.request.add({
        resolved: async (config) => {
          // Google's endpoint is fixed in the library; only the operator's setting replaces it.
          if (options.tokenEndpoint !== undefined && String(config.url) === GOOGLE_TOKEN_URI) config.url = new URL(options.tokenEndpoint);
          return { ...config, timeout: options.timeoutMs, retry: false };
        },
      });
      try {
        const credentials = await client.authorize();
        if (!credentials.access_token || !credentials.expiry_date) throw new ExchangeError("Google answered without an access token");
        return { username: GCP_USERNAME, password: credentials.access_token, expiresAt: new Date(credentials.expiry_date) };
      } catch (err) {
        throw asExchangeError(err);
      }
    },
  };
}

/** Google's `error` and `error_description` (they name the account, never the key); a transport failure by its kind only. */
function asExchangeError(err: unknown): ExchangeError {
  if (err instanceof ExchangeError) return err;
  const e = (err ?? {}) as { response?: { status?: unknown; data?: unknown }; code?: unknown; name?: unknown };
  if (e.response !== undefined) {
    const data = (typeof e.response.data === "object" && e.response.data !== null ? e.response.data : {}) as Record<string, unknown>;
    const error = typeof data.error === "string" ? data.error : `HTTP ${String(e.response.status)}`;
    const description = typeof data.error_description === "string" ? `${data.error_description} ` : "";
    return new ExchangeError(`Google refused to exchange the service-account key for a token: ${description}(${error})`);
  }
  const code = typeof e.code === "string" ? e.code : typeof e.name === "string" ? e.name : "Error";
  return new ExchangeError(`Google could not be reached (${code})`);
}
