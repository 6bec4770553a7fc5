/**
 * The one error type of the outbound layer. Every refusal and every transport failure becomes an
 * `OutboundError` with a stable `code`; callers switch on the code, never on the message.
 *
 * `detail` is safe to show to the user who configured the registry: it never contains userinfo,
 * credentials, tokens, response bodies or the addresses a name resolved to (only their class).
 * The original error, if any, is kept as `cause` for logs.
 */

export type OutboundErrorCode =
  /** The target resolves to (or is) an address the policy refuses; nothing was sent. */
  | "address_not_allowed"
  /** A URL that is not https (a realm or a redirect target); nothing was sent. */
  | "insecure_scheme"
  /** A URL or host that cannot be a request target (unparsable, userinfo, bad port). */
  | "invalid_target"
  /** No complete answer within the request's total time budget (DNS + connect + response). */
  | "timeout"
  /** The body (or the header block) was larger than allowed; reading stopped. */
  | "response_too_large"
  /** The TLS handshake failed: untrusted or expired certificate, wrong host, protocol error. */
  | "tls_error"
  /** Name not found, connection refused or reset, network unreachable. */
  | "unreachable"
  /** More redirects than allowed. */
  | "too_many_redirects";

export class OutboundError extends Error {
  override readonly name = "OutboundError";

  constructor(
    readonly code: OutboundErrorCode,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

export function isOutboundError(err: unknown): err is OutboundError {
  return err instanceof OutboundError;
}
