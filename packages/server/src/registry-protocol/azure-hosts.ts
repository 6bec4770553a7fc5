import { apiHost, serverScheme } from "./hosts.js";

/**
 * Azure Container Registry login servers, `<name>.azurecr.io` and the sovereign clouds' (China
 * `.azurecr.cn`, US Government `.azurecr.us`), and which Microsoft Entra authority issues tokens
 * for each cloud. A registry name is 5 to 50 letters and digits (ACR's own rule), so the host is
 * always one label under Microsoft's domain: the exchange's second step goes to this host (through
 * the SSRF-guarded client), the first to the cloud's fixed authority, never to anything the user
 * wrote.
 */
const ACR_HOST = /^([a-z0-9]{5,50})\.azurecr\.(io|cn|us)$/;

const AUTHORITY_OF = {
  io: "https://login.microsoftonline.com",
  cn: "https://login.chinacloudapi.cn",
  us: "https://login.microsoftonline.us",
} as const;

export interface AcrHost {
  /** The login server, `<name>.azurecr.<tld>`: ACR's `service` in the token exchange. */
  host: string;
  /** The Microsoft Entra authority of the registry's cloud (the operator may override it). */
  authorityHost: string;
}

/**
 * The ACR registry a stored server names, repository prefix or not (`<host>/team` keeps the
 * registry-wide token; the service principal's role decides what it may pull), or null when it is
 * not an ACR login server (a port or an http:// scheme make it none: ACR serves https on 443 only).
 *
 * @example parseAcrServer("contoso.azurecr.cn/team")
 * // { host: "contoso.azurecr.cn", authorityHost: "https://login.chinacloudapi.cn" }
 */
export function parseAcrServer(server: string): AcrHost | null {
  if (serverScheme(server) !== "https") return null;
  const host = apiHost(server);
  const match = ACR_HOST.exec(host);
  if (!match) return null;
  return { host, authorityHost: AUTHORITY_OF[match[2] as keyof typeof AUTHORITY_OF] };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/**
 * A tenant id Microsoft Entra takes in its token URL: a GUID, or a verified domain
 * (`contoso.onmicrosoft.com`). Nothing else (no `/`, `?`, `..`, `common`): it is a path segment
 * of the token URL, and user input must not steer that URL.
 */
export function isAzureTenantId(value: string): boolean {
  return GUID.test(value) || DOMAIN.test(value);
}

/** A client (application) id: a GUID. */
export function isAzureClientId(value: string): boolean {
  return GUID.test(value);
}
