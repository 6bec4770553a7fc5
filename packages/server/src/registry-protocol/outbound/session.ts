/**
 * The steps verifyLogin and checkPull share (wire-formats.md, "Registry HTTP API v2
 * authentication"): the anonymous `/v2/` ping, answering a Basic or Bearer challenge, and the
 * mapping of transport errors to result codes. Internal to this folder.
 */
import type { ServerScheme } from "../hosts.js";
import { INSECURE_REGISTRIES_VARIABLE, NO_INSECURE_REGISTRIES, type InsecureRegistries } from "../insecure-registries.js";
import { parseWwwAuthenticate, pickChallenge, type AuthChallenge } from "./challenge.js";
import { OutboundError } from "./errors.js";
import { outboundRequest, type OutboundResponse, type Send } from "./http.js";
import { followRedirects } from "./redirects.js";
import type { LookupFn } from "./resolve.js";
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  type OutboundOptions,
  type RegistryCredentials,
  type RegistryEndpoint,
  type VerificationErrorCode,
} from "./types.js";

/** `auth_rejected` becomes `invalid_credentials` (login) or `registry_auth_failed` (pull check). */
export type StepCode = Exclude<VerificationErrorCode, "invalid_credentials"> | "auth_rejected";

/** A step's typed failure; thrown inside the flow, turned into a result at its top. */
export class StepFailure extends Error {
  override readonly name = "StepFailure";
  constructor(
    readonly code: StepCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export interface Session {
  /** `host[:port]` as given (lowercase): the only host that receives credentials directly. */
  host: string;
  /** `http` only for a registry whose server is written `http://…`. */
  scheme: ServerScheme;
  caCertPem: string | undefined;
  allowPrivate: boolean;
  insecureRegistries: InsecureRegistries;
  timeoutMs: number;
  maxResponseBytes: number;
  lookup: LookupFn | undefined;
  send: Send;
}

type Stage = "registry" | "realm";

const HOST_PORT = /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::[0-9]{1,5})?$/;

/** @throws TypeError when `endpoint.host` is not a stored-form `host[:port]` (a caller bug). */
export function openSession(endpoint: RegistryEndpoint, options: OutboundOptions): Session {
  const host = endpoint.host.toLowerCase();
  if (!HOST_PORT.test(host) || !URL.canParse(`https://${host}/v2/`)) {
    throw new TypeError("endpoint.host must be a bare host[:port] (no scheme, path or userinfo)");
  }
  return {
    host,
    scheme: endpoint.scheme ?? "https",
    caCertPem: endpoint.caCertPem,
    allowPrivate: options.allowPrivate,
    insecureRegistries: options.insecureRegistries ?? NO_INSECURE_REGISTRIES,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    lookup: options.lookup,
    send: options.send ?? outboundRequest,
  };
}

export function registryUrl(session: Session, path: string): URL {
  return new URL(path, `${session.scheme}://${session.host}/`);
}

/** One request (following up to 3 redirects); transport errors become `StepFailure`s. */
export async function call(
  session: Session,
  stage: Stage,
  request: { url: URL; method: "GET" | "HEAD"; headers?: Record<string, string> },
): Promise<OutboundResponse> {
  if (stage === "registry" && session.scheme === "http" && !session.insecureRegistries.allows(session.host)) {
    // The registry's own address, refused by the operator's policy (it was allowed when the
    // server was saved, and has since left the list): say which switch allows it.
    throw new StepFailure(
      "address_not_allowed",
      `${session.host}: plain HTTP to this registry is not allowed; the operator must list it in ${INSECURE_REGISTRIES_VARIABLE}`,
    );
  }
  try {
    return await followRedirects(
      {
        ...request,
        caCertPem: session.caCertPem,
        timeoutMs: session.timeoutMs,
        maxResponseBytes: session.maxResponseBytes,
        allowPrivate: session.allowPrivate,
        insecureRegistries: session.insecureRegistries,
        lookup: session.lookup,
      },
      { send: session.send },
    );
  } catch (err) {
    if (!(err instanceof OutboundError)) throw err;
    const who = stage === "registry" ? session.host : `the token service at ${request.url.host}`;
    throw new StepFailure(stepCode(err, stage), `${who}: ${err.detail}`);
  }
}

function stepCode(err: OutboundError, stage: Stage): StepCode {
  switch (err.code) {
    case "timeout":
    case "unreachable":
      return "registry_unreachable";
    case "tls_error":
      return "tls_error";
    case "address_not_allowed":
      return "address_not_allowed";
    case "insecure_scheme":
      return stage === "realm" ? "insecure_realm" : "registry_error";
    case "invalid_target":
    case "too_many_redirects":
    case "response_too_large":
      return "registry_error";
  }
}

/**
 * Step 1: `GET /v2/` without credentials.
 * @returns `null` for an anonymous registry (200), else the challenge to answer (401).
 */
export async function ping(session: Session): Promise<AuthChallenge | null> {
  const response = await call(session, "registry", { url: registryUrl(session, "/v2/"), method: "GET" });
  if (response.status === 200) return null;
  if (response.status === 401) return challengeOf(session, response);
  if (isServerTrouble(response.status)) {
    throw new StepFailure("registry_error", `${session.host}: GET /v2/ answered ${describeStatus(response)}`);
  }
  throw new StepFailure(
    "registry_unreachable",
    `${session.host}: GET /v2/ answered ${describeStatus(response)}; no registry API v2 there`,
  );
}

/** The challenge of a 401 answer, or an `unsupported_auth` failure. */
export function challengeOf(session: Session, response: OutboundResponse): AuthChallenge {
  const challenges = parseWwwAuthenticate(response.headers["www-authenticate"]);
  if (challenges === null) {
    throw new StepFailure("unsupported_auth", `${session.host}: the WWW-Authenticate challenge is malformed`);
  }
  const challenge = pickChallenge(challenges);
  if (challenge === undefined) {
    throw new StepFailure("unsupported_auth", `${session.host}: 401 without a WWW-Authenticate challenge`);
  }
  if (challenge.scheme !== "basic" && challenge.scheme !== "bearer") {
    const scheme = challenge.scheme.length <= 32 ? challenge.scheme : `${challenge.scheme.slice(0, 32)}…`;
    throw new StepFailure("unsupported_auth", `${session.host}: authentication scheme "${scheme}" is not supported`);
  }
  return challenge;
}

/**
 * Steps 2–3: the `Authorization` value answering `challenge`. Basic: the credentials. Bearer:
 * a token from the realm (https, or http to a host the operator listed; same address checks; may
 * be another host) for `service` and
 * each of `scopes`, fetched with the credentials when there are some.
 */
export async function authorize(
  session: Session,
  challenge: AuthChallenge,
  credentials: RegistryCredentials | null,
  scopes: readonly string[],
): Promise<string> {
  if (challenge.scheme === "basic") {
    if (credentials === null) throw new StepFailure("auth_rejected", `${session.host}: the registry requires credentials`);
    return basicAuthorization(credentials);
  }
  return `Bearer ${await fetchToken(session, challenge, credentials, scopes)}`;
}

async function fetchToken(
  session: Session,
  challenge: AuthChallenge,
  credentials: RegistryCredentials | null,
  scopes: readonly string[],
): Promise<string> {
  const realm = challenge.params.realm;
  if (realm === undefined || realm === "") {
    throw new StepFailure("registry_error", `${session.host}: the Bearer challenge has no realm`);
  }
  if (!URL.canParse(realm)) {
    throw new StepFailure("registry_error", `${session.host}: the Bearer realm is not a valid URL`);
  }
  const url = new URL(realm);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && session.insecureRegistries.allows(url.host))) {
    throw new StepFailure(
      "insecure_realm",
      `${session.host}: the token realm is not https; credentials are only sent over https (or over http to a host the operator lists in ${INSECURE_REGISTRIES_VARIABLE})`,
    );
  }
  const service = challenge.params.service;
  if (service !== undefined) url.searchParams.append("service", service);
  for (const scope of scopes) url.searchParams.append("scope", scope);

  const headers: Record<string, string> = { accept: "application/json" };
  if (credentials !== null) headers.authorization = basicAuthorization(credentials);
  const response = await call(session, "realm", { url, method: "GET", headers });
  const who = `the token service at ${url.host}`;

  if (response.status === 401 || response.status === 403) {
    const what = credentials === null ? "requires credentials" : "refused the credentials";
    throw new StepFailure("auth_rejected", `${who} ${what} (${describeStatus(response)})`);
  }
  if (response.status !== 200) {
    throw new StepFailure("registry_error", `${who} answered ${describeStatus(response)}`);
  }
  return parseToken(response.body, who);
}

/** `{"token": "…"}` or `{"access_token": "…"}`; the token is never echoed. */
function parseToken(body: Buffer, who: string): string {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new StepFailure("registry_error", `${who} answered 200 without a JSON body`);
  }
  // JSON null has no fields; any other JSON value answers `undefined` for a missing one.
  const record = json as { token?: unknown; access_token?: unknown } | null;
  const token = [record?.token, record?.access_token].find((t): t is string => typeof t === "string" && t !== "");
  if (token === undefined) throw new StepFailure("registry_error", `${who} answered without a token`);
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new StepFailure("registry_error", `${who} answered with a token that cannot be sent in a header`);
  }
  return token;
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

/** 5xx and 429: the registry is there but cannot answer now. */
export function isServerTrouble(status: number): boolean {
  return status >= 500 || status === 429;
}

/**
 * `401` or `401 (UNAUTHORIZED, DENIED)`: the status plus at most the registry's
 * `errors[].code` values (upper-case identifiers), never the body or its messages.
 */
export function describeStatus(response: Pick<OutboundResponse, "status" | "body">): string {
  const codes = registryErrorCodes(response.body);
  return codes.length === 0 ? String(response.status) : `${response.status} (${codes.join(", ")})`;
}

export function registryErrorCodes(body: Buffer): string[] {
  if (body.length > 64 * 1024) return []; // an empty body fails JSON.parse below
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    // Not JSON: `json` stays undefined, which has no errors.
  }
  const errors = (json as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const codes = errors
    .map((e: unknown) => (e as { code?: unknown } | null)?.code)
    .filter((c): c is string => typeof c === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(c));
  return [...new Set(codes)].slice(0, 3);
}
