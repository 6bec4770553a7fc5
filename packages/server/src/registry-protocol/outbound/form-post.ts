/**
 * A form POST to a registry host: what a registry's own token exchange needs (ACR's
 * `/oauth2/exchange`, which trades a Microsoft Entra token for a registry refresh token). The
 * host is user input, so the request takes every guard a `/v2/` ping takes (the session's host
 * rules, https only or http to a listed host, every address checked and the socket pinned, one
 * time budget, a bounded answer) and one more: it is never redirected (redirects.ts), so the
 * form, which carries a token, reaches the checked host only.
 */
import { followRedirects } from "./redirects.js";
import type { OutboundResponse } from "./http.js";
import { openSession, registryUrl } from "./session.js";
import type { OutboundOptions, RegistryEndpoint } from "./types.js";

/**
 * POSTs `form` (`application/x-www-form-urlencoded`) to `path` on the registry at `endpoint`.
 *
 * @throws OutboundError (`address_not_allowed`, `insecure_scheme`, `timeout`, `tls_error`,
 *   `unreachable`, `response_too_large`…): its `detail` is safe to show; TypeError for a
 *   malformed `endpoint.host` (a caller bug).
 * @example
 * const res = await postRegistryForm({ host: "contoso.azurecr.io" }, "/oauth2/exchange",
 *   new URLSearchParams({ grant_type: "access_token", … }), { allowPrivate: false });
 */
export async function postRegistryForm(
  endpoint: RegistryEndpoint,
  path: string,
  form: URLSearchParams,
  options: OutboundOptions,
): Promise<OutboundResponse> {
  const session = openSession(endpoint, options);
  return followRedirects(
    {
      url: registryUrl(session, path),
      method: "POST",
      headers: { accept: "application/json" },
      body: { contentType: "application/x-www-form-urlencoded", data: Buffer.from(form.toString()) },
      caCertPem: session.caCertPem,
      timeoutMs: session.timeoutMs,
      maxResponseBytes: session.maxResponseBytes,
      allowPrivate: session.allowPrivate,
      insecureRegistries: session.insecureRegistries,
      lookup: session.lookup,
    },
    { send: session.send },
  );
}
