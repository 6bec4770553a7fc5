import type { ProblemCode } from "../errors.js";

/** The one table from a stable problem code to its HTTP status and title. */
export const problemTable: Record<ProblemCode, { status: number; title: string }> = {
  malformed_request: { status: 400, title: "Malformed request" },
  unauthorized: { status: 401, title: "Unauthorized" },
  workspace_forbidden: { status: 403, title: "Forbidden" },
  insufficient_scope: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  registry_name_taken: { status: 409, title: "Conflict" },
  registry_in_use: { status: 409, title: "Conflict" },
  registry_disabled: { status: 409, title: "Conflict" },
  registry_deleted: { status: 409, title: "Conflict" },
  image_disabled: { status: 409, title: "Conflict" },
  idempotency_in_progress: { status: 409, title: "Conflict" },
  concurrent_modification: { status: 409, title: "Conflict" },
  precondition_failed: { status: 412, title: "Precondition failed" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  validation_failed: { status: 422, title: "Validation failed" },
  registry_not_found: { status: 422, title: "Validation failed" },
  invalid_cursor: { status: 422, title: "Validation failed" },
  invalid_credentials: { status: 422, title: "Validation failed" },
  // At link time (create/update an image) a mismatch is bad input; at pull time it is a state
  // conflict. The table holds the link-time answer; the pull path overrides the status.
  registry_host_mismatch: { status: 422, title: "Validation failed" },
  idempotency_key_reused: { status: 422, title: "Validation failed" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal_error: { status: 500, title: "Internal server error" },
  credential_undecryptable: { status: 500, title: "Internal server error" },
  // A cloud registry's provider refused (or did not answer) the exchange of the stored
  // credential for a token: an upstream failure, not the caller's nor ours.
  exchange_failed: { status: 502, title: "Bad gateway" },
  service_unavailable: { status: 503, title: "Service unavailable" },
  // The active key cannot seal (retired, or its nonce budget spent): only the operator can fix it.
  encryption_key_unavailable: { status: 503, title: "Service unavailable" },
};

export const PROBLEM_TYPE_BASE = "https://modbox.dev/problems/";
