/** Options of a single call; they override the client's settings for that call only. */
export interface RequestOptions {
  /** Aborts the call, including retries and the waits between them. */
  signal?: AbortSignal;
  /** Extra headers for this call; they win over the client's headers of the same name. */
  headers?: Record<string, string>;
  /** Retries after the first attempt (retryable calls only; see the README's Retries). */
  maxRetries?: number;
  /** Budget of each attempt, in milliseconds. */
  timeoutMs?: number;
}

/** Options of a call that creates or acts (a POST the contract gives an `Idempotency-Key`). */
export interface IdempotentRequestOptions extends RequestOptions {
  /**
   * The `Idempotency-Key` of this call. Default: a fresh random UUID per call, sent unchanged by
   * every retry of that call. Pass your own to make a retry of your own safe too (e.g. after a
   * crash, with a key you stored before calling): the server then answers the first call's
   * result again instead of acting twice. The same key with a different request is refused
   * (`UnprocessableEntityError`, code `idempotency_key_reused`); keys are kept 24 hours.
   */
  idempotencyKey?: string;
}

/** Options of a write that can be made conditional on the version last read. */
export interface ConditionalRequestOptions extends RequestOptions {
  /**
   * Sent as `If-Match`: write only if the object is still at this version, an `etag` from
   * `.withResponse()` (or `*`: any current version). A stale one throws
   * `PreconditionFailedError` and changes nothing. Omitted or `undefined`: the write is
   * unconditional.
   */
  ifMatch?: string;
}

/** Options of a read that answers only if the object changed since the version you hold. */
export interface ConditionalReadOptions extends RequestOptions {
  /**
   * Sent as `If-None-Match`: the `etag` of the copy you hold. If the object is still at that
   * version the server answers `304` with no body, and the call resolves `null`: your copy is
   * current.
   */
  ifNoneMatch: string;
}
