/** Options of a single call; they override the client's settings for that call only. */
export interface RequestOptions {
  /** Aborts the call, including retries and the waits between them. */
  signal?: AbortSignal;
  /** Extra headers for this call; they win over the client's headers of the same name. */
  headers?: Record<string, string>;
  /** Retries after the first attempt (idempotent methods only). */
  maxRetries?: number;
  /** Budget of each attempt, in milliseconds. */
  timeoutMs?: number;
}
