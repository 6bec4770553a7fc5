/**
 * One outbound HTTPS request to a user-chosen host, with the SSRF guards of
 * engineering/security.md: https only (plain http only to a host the operator listed in
 * `MODBOX_INSECURE_REGISTRIES`), the name resolved once and every address checked before the
 * connection, the socket pinned to the checked addresses, one total time budget, a bounded body,
 * no automatic redirects (see redirects.ts), typed failures.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { rootCertificates } from "node:tls";
import { INSECURE_REGISTRIES_VARIABLE, type InsecureRegistries } from "../insecure-registries.js";
import { OutboundError } from "./errors.js";
import { resolveTarget, type CheckedAddress, type LookupFn } from "./resolve.js";
import { classifyTransportError } from "./transport-errors.js";

export interface OutboundRequest {
  /** An absolute `https:` URL without userinfo (`http:` only to a host `insecureRegistries` allows). */
  url: string | URL;
  method: "GET" | "HEAD" | "POST";
  headers?: Readonly<Record<string, string>>;
  /**
   * A POST's body (a form, say: ACR's token exchange). Sent with its length; a POST is never
   * redirected (redirects.ts), so the body reaches only the host that was checked.
   */
  body?: { contentType: string; data: Buffer };
  /**
   * A PEM CA bundle trusted for this request, IN ADDITION to Node's bundled roots: the same
   * rule as Docker's `certs.d/<host>/ca.crt`, containerd's `hosts.toml` `ca` and skopeo's
   * `--cert-dir`, so verification predicts what the puller will do (and a realm on a public
   * host keeps working). `NODE_EXTRA_CA_CERTS` is not consulted.
   */
  caCertPem?: string;
  /** Total budget: DNS + connect + TLS + response head + body. */
  timeoutMs: number;
  maxResponseBytes: number;
  allowPrivate: boolean;
  /** The hosts that may be spoken to over plain http (default: none). */
  insecureRegistries?: InsecureRegistries;
  lookup?: LookupFn;
}

export interface OutboundResponse {
  /** The URL that answered (the request URL; the last hop after `followRedirects`). */
  url: string;
  status: number;
  /** Lowercase names; repeated headers (e.g. several `WWW-Authenticate`) stay separate. */
  headers: Readonly<Record<string, readonly string[]>>;
  body: Buffer;
}

/** The signature of `outboundRequest`: what `followRedirects` and the v2 client call. */
export type Send = (request: OutboundRequest) => Promise<OutboundResponse>;

const USER_AGENT = "modbox-registries/0.1";

/**
 * Sends one GET, HEAD or POST request. Nothing is sent (no socket is opened) unless the URL is https
 * (or http to a host `insecureRegistries` allows) and every address of its host passed the policy.
 *
 * @throws OutboundError `insecure_scheme`, `invalid_target`, `address_not_allowed` (all before
 *   any connection), `timeout`, `tls_error`, `unreachable`, `response_too_large`.
 * @example
 * const res = await outboundRequest({ url: "https://ghcr.io/v2/", method: "GET",
 *   timeoutMs: 5000, maxResponseBytes: 1 << 20, allowPrivate: false });
 * res.status // 401
 */
export async function outboundRequest(request: OutboundRequest): Promise<OutboundResponse> {
  const url = parseTargetUrl(request.url, request.insecureRegistries);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  try {
    const target = await resolveTarget(url.hostname, {
      allowPrivate: request.allowPrivate,
      lookup: request.lookup,
      signal: controller.signal,
    });
    return await send(url, target.hostname, target.literal, target.addresses, request, controller.signal);
  } catch (err) {
    if (controller.signal.aborted) {
      throw new OutboundError("timeout", `no complete answer within ${request.timeoutMs} ms`, { cause: err });
    }
    if (err instanceof OutboundError) throw err;
    throw classifyTransportError(err);
  } finally {
    clearTimeout(timer);
  }
}

/** First value of a response header (names are case-insensitive). */
export function headerValue(response: Pick<OutboundResponse, "headers">, name: string): string | undefined {
  return response.headers[name.toLowerCase()]?.[0];
}

/**
 * Validates a request or redirect URL: absolute, `https:` (or `http:` to a host that
 * `insecureRegistries` allows), no userinfo. The details never repeat the URL (it may carry
 * userinfo).
 */
export function parseTargetUrl(input: string | URL, insecureRegistries?: InsecureRegistries): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch (err) {
    throw new OutboundError("invalid_target", "the URL is not a valid absolute URL", { cause: err });
  }
  if (url.protocol === "http:") {
    if (!insecureRegistries?.allows(url.host)) {
      throw new OutboundError(
        "insecure_scheme",
        `plain http to this host is not allowed: only https, or http to a host the operator lists in ${INSECURE_REGISTRIES_VARIABLE}`,
      );
    }
  } else if (url.protocol !== "https:") {
    throw new OutboundError("insecure_scheme", `only https URLs are allowed, not ${safeScheme(url.protocol)}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new OutboundError("invalid_target", "URLs with userinfo are not allowed");
  }
  url.hash = "";
  return url;
}

/** The scheme, if short: the URL parser only yields `[a-z][a-z0-9+.-]*:`, so only its length needs a bound. */
function safeScheme(protocol: string): string {
  return protocol.length <= 17 ? protocol.slice(0, -1) : "that scheme";
}

async function send(
  url: URL,
  hostname: string,
  literal: boolean,
  addresses: readonly CheckedAddress[],
  request: OutboundRequest,
  signal: AbortSignal,
): Promise<OutboundResponse> {
  const common = {
    host: hostname,
    // No port in the URL (the scheme's default) gives 0, for which Node uses the agent's default: 80 or 443.
    port: Number(url.port),
    path: `${url.pathname}${url.search}`,
    method: request.method,
    headers: {
      "user-agent": USER_AGENT,
      ...request.headers,
      ...(request.body && { "content-type": request.body.contentType, "content-length": String(request.body.data.length) }),
    },
    lookup: pinnedLookup(addresses),
    agent: false as const,
    signal,
  };
  // parseTargetUrl let an http URL through only for a host the operator listed.
  const req =
    url.protocol === "http:"
      ? httpRequest(common)
      : httpsRequest({
          ...common,
          ...(literal ? {} : { servername: hostname }),
          ca: request.caCertPem === undefined ? undefined : [...rootCertificates, request.caCertPem],
          rejectUnauthorized: true,
          minVersion: "TLSv1.2",
        });
  // The request's "error" (refused, TLS, reset, abort) may come before or after the response
  // head: `failed` carries it into both waits below.
  const failed = new Promise<never>((_, reject) => req.on("error", reject));
  failed.catch(() => undefined);

  const response = await Promise.race([
    new Promise<IncomingMessage>((resolve) => {
      req.once("response", resolve);
      req.end(request.body?.data);
    }),
    failed,
  ]);
  try {
    const body = await readBounded(response, request.method, request.maxResponseBytes, failed);
    return {
      url: url.toString(),
      status: response.statusCode ?? 0,
      headers: response.headersDistinct as Record<string, string[]>,
      body,
    };
  } finally {
    req.destroy();
  }
}

async function readBounded(
  response: IncomingMessage,
  method: OutboundRequest["method"],
  max: number,
  failed: Promise<never>,
): Promise<Buffer> {
  const tooLarge = () => new OutboundError("response_too_large", `the response body exceeds ${max} bytes`);
  // A HEAD answer announces the size of a body it does not send.
  const declared = method === "HEAD" ? Number.NaN : Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) {
    response.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const read = (async () => {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) {
        response.destroy();
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  })();
  read.catch(() => undefined); // the race below reports it; avoid a late unhandled rejection
  await Promise.race([read, failed]);
  return Buffer.concat(chunks, size);
}

/**
 * A `lookup` for `https.request` (and `http.request`) that answers every query with the already-checked addresses:
 * the socket can only go where the policy looked. With `all` (Node's happy-eyeballs path) it
 * offers every checked address, in resolver order.
 */
export function pinnedLookup(addresses: readonly CheckedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family: unknown = options.family;
    const wanted = family === 4 || family === "IPv4" ? 4 : family === 6 || family === "IPv6" ? 6 : undefined;
    const usable = addresses.filter((a) => wanted === undefined || a.family === wanted);
    const [first] = usable;
    if (first === undefined) {
      const err = Object.assign(new Error("no checked address of the requested family"), { code: "ENOTFOUND" });
      callback(err, "", 0);
      return;
    }
    if (options.all) {
      (callback as unknown as (e: null, list: { address: string; family: number }[]) => void)(
        null,
        usable.map(({ address, family }) => ({ address, family })),
      );
      return;
    }
    callback(null, first.address, first.family);
  };
}
