/**
 * Errors a service raises on purpose. Each carries a stable `code` from the table in
 * `http/problem-table.ts`, which decides the HTTP status and title. `detail` is written for the
 * API user and must never contain a submitted value.
 */
export class DomainError extends Error {
  override name = "DomainError";
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly fieldErrors?: ReadonlyArray<{ path: string; message: string }>,
    /** RFC 9457 extension members, e.g. `linked_image_ids` (never a secret, never a submitted value). */
    readonly extensions?: Readonly<Record<string, unknown>>,
    /** Overrides the table's status (registry_host_mismatch is 422 at link time, 409 at pull time). */
    readonly status?: number,
  ) {
    super(detail);
  }
}

export type ProblemCode =
  | "malformed_request"
  | "unauthorized"
  | "workspace_forbidden"
  | "not_found"
  | "method_not_allowed"
  | "registry_name_taken"
  | "registry_not_found"
  | "payload_too_large"
  | "unsupported_media_type"
  | "validation_failed"
  | "invalid_cursor"
  | "insufficient_scope"
  | "rate_limited"
  | "internal_error"
  | "credential_undecryptable"
  | "service_unavailable"
  | "encryption_key_unavailable"
  | "invalid_credentials"
  | "registry_in_use"
  | "registry_disabled"
  | "registry_deleted"
  | "registry_host_mismatch"
  | "image_disabled";
