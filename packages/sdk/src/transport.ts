import { ConnectionError, TimeoutError, targetOf } from "./errors.js";
import { isRetryableRequest, isRetryableStatus, retryDelay } from "./retry.js";

/** The `fetch` shape openapi-fetch calls: one `Request` in, one `Response` out. */
export type Fetch = (request: Request) => Promise<Response>;

export interface TransportOptions {
  /** The fetch to send each attempt with; `globalThis.fetch` (looked up per call) if absent. */
  fetch?: Fetch | undefined;
  /** Retries after the first attempt, for retryable requests only (see retry.ts). */
  maxRetries: number;
  /** Budget of each attempt, from sending to the end of the response body. */
  timeoutMs: number;
  /**
   * Retry even a POST without an `Idempotency-Key`. Only for a request whose repetition is known
   * to be harmless although the contract gives it no key (pull credentials: see Provisioning).
   */
  repeatable?: boolean | undefined;
  /** Injected by tests so backoff does not cost real seconds. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Injected by tests to pin the jitter. */
  random?: () => number;
}

/**
 * Builds the `fetch` handed to openapi-fetch: it applies the per-attempt timeout and the retry
 * policy of retry.ts.
 *
 * Why a fetch wrapper and not openapi-fetch middleware: a middleware can rewrite one request or
 * one response, but a retry loop must send the same request several times and decide from each
 * outcome, including a thrown network error. The fetch seam sees exactly that: every attempt,
 * and nothing of openapi-fetch's parsing, which runs once on the final response.
 */
export function createTransport(options: TransportOptions): Fetch {
  const { maxRetries, timeoutMs, sleep = abortableSleep, random = Math.random } = options;

  return async function send(request: Request): Promise<Response> {
    // Decided once per call: every retry re-sends this request, its Idempotency-Key included,
    // so the server can tell a retry from a second operation.
    const retryable = options.repeatable === true || isRetryableRequest(request.method, request.headers);
    for (let attempt = 0; ; attempt++) {
      const mayRetry = retryable && attempt < maxRetries;
      const timeout = AbortSignal.timeout(timeoutMs);
      // The caller's signal (request.signal) aborts everything; the timeout only this attempt.
      const signal = AbortSignal.any([request.signal, timeout]);
      // Resolved per call, not at createClient: msw and test stubs replace globalThis.fetch
      // after clients are built. A body can only be read once, so an attempt that may be followed
      // by another sends a clone; a request without a body (GET, DELETE) is reused as it is,
      // which spares a copy of the request on every call.
      const fetch = options.fetch ?? globalThis.fetch;
      const source = request.body !== null && mayRetry ? request.clone() : request;
      let response: Response;
      try {
        response = await fetch(new Request(source, { signal }));
      } catch (error) {
        if (request.signal.aborted) throw error; // the caller aborted: not ours to retry or rename
        const target = targetOf(request);
        const failure = timeout.aborted
          ? new TimeoutError(`Request timed out after ${timeoutMs} ms: ${target.method} ${target.url}.`, {
              cause: error,
              target,
            })
          : ConnectionError.of(target, error);
        if (!mayRetry) throw failure;
        await sleep(retryDelay(attempt, null, random), request.signal);
        continue;
      }
      if (!mayRetry) return response;
      const code = response.status === 409 ? await problemCode(response) : undefined;
      if (!isRetryableStatus(response.status, code)) return response;
      const delay = retryDelay(attempt, response.headers.get("retry-after"), random);
      // Free the connection for reuse. Not awaited: cancelling a tee'd body (a cloned Response)
      // only settles once every branch is cancelled, which must not stall the retry.
      response.body?.cancel().catch(() => undefined);
      await sleep(delay, request.signal);
    }
  };
}

// A 409 is retried for one problem code only, so its body must be read to decide. A clone is
// read, so the response handed back (when not retrying) still has its whole body for the
// caller. Problem bodies are small; anything unreadable or not JSON means "not retryable".
async function problemCode(response: Response): Promise<string | undefined> {
  try {
    const body: unknown = await response.clone().json();
    const code = typeof body === "object" && body !== null ? (body as { code?: unknown }).code : undefined;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
