// The retry policy, as pure functions: which requests may be retried, and how long to wait.
// The loop that applies it lives in transport.ts.

/** First backoff step; attempt n waits up to BASE * 2^n. */
export const BASE_DELAY_MS = 500;
/** Ceiling of the exponential backoff. */
export const MAX_DELAY_MS = 8_000;
/** Ceiling of a server's `Retry-After`, so a bad header cannot park a caller for hours. */
export const MAX_RETRY_AFTER_MS = 60_000;

// Methods whose repetition leaves the server as one call would. PUT is a partial update here,
// but sending the same fields twice still yields the same state. POST is absent: a POST whose
// response was lost may have created the object, so a blind retry could create a second
// registry or image.
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE"]);

/**
 * Whether a request may be sent again after a failure: an idempotent method, or any request
 * carrying an `Idempotency-Key`. The server answers a repeated key with the first request's
 * stored answer instead of acting twice, which is what makes a POST whose answer was lost safe
 * to send again. A POST without a key is never retried.
 */
export function isRetryableRequest(method: string, headers: Headers): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase()) || headers.has("idempotency-key");
}

/**
 * Whether a response is worth another attempt: request timeout, rate limit, server errors, and
 * the one transient conflict, `409 idempotency_in_progress` (the first request with this
 * `Idempotency-Key` is still running; its answer is stored when it ends, and the retry then gets
 * it). Other 409s are stable (a taken name stays taken) and 412 means the object changed:
 * repeating cannot help either. `code` is the problem's `code`, read only for a 409.
 */
export function isRetryableStatus(status: number, code?: string): boolean {
  if (status === 409) return code === "idempotency_in_progress";
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Parses `Retry-After` (delay-seconds or an HTTP date) into milliseconds, clamped to
 * [0, MAX_RETRY_AFTER_MS]; `undefined` when absent or unparseable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  // Date.parse alone is too lenient (V8 reads "1.5" as a date in 2001), so a date must at
  // least name its day or month, as every HTTP date format does.
  const ms = /^\d+$/.test(trimmed)
    ? Number(trimmed) * 1000
    : /[a-z]/i.test(trimmed)
      ? Date.parse(trimmed) - now
      : Number.NaN;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(cap, base * 2^retry)).
 * Full jitter spreads clients that failed together, so they do not retry in lockstep.
 */
export function backoffDelay(retry: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** retry));
}

/** The wait before retry number `retry` (0-based): the server's `Retry-After` if any, else backoff. */
export function retryDelay(
  retry: number,
  retryAfter: string | null,
  random: () => number = Math.random,
  now: number = Date.now(),
): number {
  return parseRetryAfter(retryAfter, now) ?? backoffDelay(retry, random);
}
