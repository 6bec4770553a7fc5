import type { Problem, ProblemCode, ProblemFieldError } from "./types.js";

// Error messages are built from the status and the server's problem body only. They never
// include the request body: a registry body carries a password.

/** Base class of every error the SDK throws. */
export class ModboxError extends Error {
  override name = "ModboxError";
}

/** The server answered with a non-2xx status. Subclasses narrow it by status. */
export class APIError extends ModboxError {
  override name = "APIError";
  /** The HTTP status. */
  readonly status: number;
  /**
   * The stable machine-readable `code` of the problem (e.g. `registry_name_taken`): one of the
   * contract's codes this SDK was generated from, `undefined` when the body was not a problem.
   */
  readonly code: ProblemCode | undefined;
  /** The problem's short summary. */
  readonly title: string | undefined;
  /** The problem's explanation of this occurrence. */
  readonly detail: string | undefined;
  /** The request id to quote to support: the problem's `request_id`, else `X-Request-Id`. */
  readonly requestId: string | undefined;
  /** The parsed `application/problem+json` body, or `undefined` if the body was not one. */
  readonly problem: Problem | undefined;
  /** The response headers. */
  readonly headers: Headers;

  constructor(status: number, problem: Problem | undefined, headers: Headers) {
    super(describe(status, problem));
    this.status = status;
    this.problem = problem;
    this.headers = headers;
    this.code = problem?.code;
    this.title = problem?.title;
    this.detail = problem?.detail;
    this.requestId = problem?.request_id ?? headers.get("x-request-id") ?? undefined;
  }

  /**
   * Builds the error class that matches the response status.
   *
   * @example
   * ```ts
   * const { error, response } = await client.raw.GET("/registries");
   * if (error !== undefined) throw APIError.from(response, error);
   * ```
   */
  static from(response: Response, body: unknown): APIError {
    const status = response.status;
    const ErrorClass =
      ERROR_CLASS_BY_STATUS[status] ?? (status >= 500 ? InternalServerError : APIError);
    return new ErrorClass(status, asProblem(body), response.headers);
  }
}

/** 400: the body is not valid JSON (`malformed_request`). */
export class BadRequestError extends APIError {
  override name = "BadRequestError";
}

/** 401: the bearer token is missing, malformed, unknown or revoked. */
export class AuthenticationError extends APIError {
  override name = "AuthenticationError";
}

/** 403: the token is not granted this workspace, or not this operation. */
export class PermissionDeniedError extends APIError {
  override name = "PermissionDeniedError";
}

/** 404: no such object in this workspace (another workspace's object is answered the same). */
export class NotFoundError extends APIError {
  override name = "NotFoundError";
}

/**
 * 409: the request conflicts with stored state or with another request; `code` says which:
 * `registry_name_taken`, `registry_in_use`, `registry_disabled`, `image_disabled`,
 * `registry_deleted`, `registry_host_mismatch`, `concurrent_modification` (the object kept
 * changing while the request ran: read it again and retry), or `idempotency_in_progress` (a
 * request with the same `Idempotency-Key` is still running; the SDK retries that one itself and
 * throws it only once `maxRetries` is spent).
 */
export class ConflictError extends APIError {
  override name = "ConflictError";
}

/**
 * 412: `If-Match` named none of the object's current versions (`precondition_failed`): it changed
 * since you read it, and nothing was written. Read it again, then decide. Never retried.
 */
export class PreconditionFailedError extends APIError {
  override name = "PreconditionFailedError";
}

/** 413: the body is larger than the server accepts. */
export class PayloadTooLargeError extends APIError {
  override name = "PayloadTooLargeError";
}

/**
 * 422: the request breaks a rule of the contract; `errors` lists each failed rule. Code
 * `idempotency_key_reused`: the `Idempotency-Key` was already used for a different request.
 */
export class UnprocessableEntityError extends APIError {
  override name = "UnprocessableEntityError";
  /** One entry per failed rule: where (`/body/name`) and which rule, never the value. */
  readonly errors: ProblemFieldError[];

  constructor(status: number, problem: Problem | undefined, headers: Headers) {
    super(status, problem, headers);
    this.errors = (problem?.errors ?? []).filter(isFieldError);
  }
}

/** 429: too many requests for this token; see `Retry-After`. */
export class RateLimitError extends APIError {
  override name = "RateLimitError";
}

/** 5xx: the server failed. */
export class InternalServerError extends APIError {
  override name = "InternalServerError";
}

/** 503: the server cannot serve now (database down, shutting down); see `Retry-After`. */
export class ServiceUnavailableError extends InternalServerError {
  override name = "ServiceUnavailableError";
}

/** Which request a `ConnectionError` was for: enough to find the wrong host or port. */
export interface RequestTarget {
  /** `GET`, `POST`, … */
  method: string;
  /** Scheme, host, port (always written out) and path; never the query, which may carry a cursor. */
  url: string;
}

/**
 * No response arrived: DNS, refused or reset connection, TLS failure. The message names the
 * request (method, host, port, path) and the innermost reason, e.g.
 * `Connection error: GET http://127.0.0.1:8080/registries: connect ECONNREFUSED 127.0.0.1:8080`;
 * `cause` holds the original error.
 */
export class ConnectionError extends ModboxError {
  override name = "ConnectionError";
  /** The request's method, when the SDK sent it. */
  readonly method: string | undefined;
  /** The request's URL without userinfo or query (see `RequestTarget`), when the SDK sent it. */
  readonly url: string | undefined;

  constructor(message = "Connection error.", options?: ErrorOptions & { target?: RequestTarget }) {
    super(message, options);
    this.method = options?.target?.method;
    this.url = options?.target?.url;
  }

  /** The error for a request that got no answer, worded from its target and the cause. */
  static of(target: RequestTarget, cause: unknown): ConnectionError {
    return new ConnectionError(`Connection error: ${target.method} ${target.url}: ${reasonOf(cause)}`, {
      cause,
      target,
    });
  }
}

/** No response arrived within `timeoutMs` (per attempt). */
export class TimeoutError extends ConnectionError {
  override name = "TimeoutError";

  constructor(message = "Request timed out.", options?: ErrorOptions & { target?: RequestTarget }) {
    super(message, options);
  }
}

/** What a request is reported as: the port written out even when it is the scheme's default. */
export function targetOf(request: Request): RequestTarget {
  const url = new URL(request.url);
  const port = url.port || (url.protocol === "https:" ? "443" : url.protocol === "http:" ? "80" : "");
  return { method: request.method, url: `${url.protocol}//${url.hostname}${port ? `:${port}` : ""}${url.pathname}` };
}

// fetch (undici) throws `TypeError: fetch failed` and puts the reason in `cause`, sometimes two
// levels down (an AggregateError when every address of the host refused). The innermost message
// says what happened ("connect ECONNREFUSED 127.0.0.1:8080", "getaddrinfo ENOTFOUND api",
// "self-signed certificate"); its `code` is added when the message does not already say it.
function reasonOf(error: unknown): string {
  let innermost = error;
  for (let depth = 0; depth < 8; depth++) {
    const next = (innermost as { cause?: unknown } | null)?.cause ?? firstOf(innermost);
    if (next === undefined || next === null) break;
    innermost = next;
  }
  const message = innermost instanceof Error ? innermost.message : String(innermost);
  const code = (innermost as { code?: unknown } | null)?.code;
  if (typeof code === "string" && !message.includes(code)) return message ? `${code}: ${message}` : code;
  return message || "no reason given";
}

function firstOf(error: unknown): unknown {
  return error instanceof AggregateError ? error.errors[0] : undefined;
}

type APIErrorClass = new (status: number, problem: Problem | undefined, headers: Headers) => APIError;

// One table from status to class; statuses not listed fall back to InternalServerError (5xx)
// or APIError.
const ERROR_CLASS_BY_STATUS: Partial<Record<number, APIErrorClass>> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  412: PreconditionFailedError,
  413: PayloadTooLargeError,
  422: UnprocessableEntityError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

// A 422 that lists field errors is worded by its first one (where, and which rule), since that
// is what a reader of a stack trace must fix; the rest stay in `errors`.
function describe(status: number, problem: Problem | undefined): string {
  if (problem === undefined) return `${status} status code (no problem body)`;
  const fieldErrors = (problem.errors ?? []).filter(isFieldError);
  const [first] = fieldErrors;
  if (first !== undefined) {
    const more = fieldErrors.length > 1 ? ` (and ${fieldErrors.length - 1} more in .errors)` : "";
    return `${status} ${problem.code}: ${first.path}: ${first.message}${more}`;
  }
  const what = problem.detail ?? problem.title;
  return `${status} ${problem.code}${what ? `: ${what}` : ""}`;
}

// Lenient on purpose: a proxy's HTML error page is not a problem, but a problem missing an
// optional member still is.
function asProblem(body: unknown): Problem | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const candidate = body as Partial<Problem>;
  return typeof candidate.code === "string" ? (body as Problem) : undefined;
}

function isFieldError(entry: unknown): entry is ProblemFieldError {
  if (typeof entry !== "object" || entry === null) return false;
  const { path, message } = entry as Partial<ProblemFieldError>;
  return typeof path === "string" && typeof message === "string";
}
