/**
 * Redirects, followed by hand: `outboundRequest` never follows them itself, so every hop goes
 * through the same checks (https only, or http to a listed host; resolve once, every address
 * allowed, pinned socket).
 */
import { OutboundError } from "./errors.js";
import { headerValue, outboundRequest, parseTargetUrl, type OutboundRequest, type OutboundResponse, type Send } from "./http.js";

export const DEFAULT_MAX_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface FollowRedirectsOptions {
  /** Default 3. */
  maxRedirects?: number;
  /** Sends one hop; default `outboundRequest`. A test seam, like an injected `fetch`. */
  send?: Send;
}

/**
 * Sends `request` and follows up to `maxRedirects` redirects (301, 302, 303, 307, 308 with a
 * `Location`). Each target must be https (or http to a host `insecureRegistries` allows) and is
 * resolved and checked again by `send`. The `Authorization` header is dropped for good as soon as
 * a redirect changes the scheme or `host[:port]`: credentials never reach another host through a
 * redirect, nor go from https down to http. Only GET and HEAD exist here, so
 * every redirect keeps the method.
 *
 * @throws OutboundError `too_many_redirects`, `insecure_scheme` (a hop to http), `invalid_target`,
 *   and whatever `send` throws.
 * @example
 * const res = await followRedirects({ url, method: "GET", headers: { authorization }, ...limits });
 */
export async function followRedirects(
  request: OutboundRequest,
  options: FollowRedirectsOptions = {},
): Promise<OutboundResponse> {
  const send = options.send ?? outboundRequest;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let origin = originOf(parseTargetUrl(request.url, request.insecureRegistries));
  let current = request;
  for (let hop = 0; ; hop++) {
    const response = await send(current);
    const location = headerValue(response, "location");
    if (!REDIRECT_STATUSES.has(response.status) || location === undefined || current.method === "POST") return response;
    if (hop >= maxRedirects) {
      throw new OutboundError("too_many_redirects", `more than ${maxRedirects} redirects`);
    }
    let next: URL;
    try {
      next = new URL(location, response.url);
    } catch (err) {
      throw new OutboundError("invalid_target", "a redirect pointed to an invalid URL", { cause: err });
    }
    const nextUrl = parseTargetUrl(next, request.insecureRegistries); // https (or a listed http host), no userinfo
    // Once dropped, the header stays dropped: later hops start from the stripped headers.
    const headers = originOf(nextUrl) === origin ? current.headers : withoutAuthorization(current.headers);
    current = { ...current, url: nextUrl, headers };
    origin = originOf(nextUrl);
  }
}

/** Scheme and `host[:port]`: what a redirect must keep for the credentials to follow. */
function originOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

function withoutAuthorization(headers: OutboundRequest["headers"]): OutboundRequest["headers"] {
  if (headers === undefined) return undefined;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== "authorization"));
}
