/**
 * What a pull-credential audit event may record as its outcome: `issued`, or the problem code
 * that refused the hand-out. The outcome is stored, never answered by the API, so this list is
 * its one source: the pull service can only record these (its outcome type is this list's), and
 * a refusal code must be a problem code of the contract (a code removed from openapi.yaml stops
 * this file compiling). A leaf module with no runtime imports, so the schema can use the list
 * (a CHECK constraint) without an import cycle.
 */
import type { ProblemCode } from "../errors.js";

export const PULL_CREDENTIAL_OUTCOMES = [
  "issued",
  // Refused before the image is read: the token's scope or workspace grant.
  "insufficient_scope",
  "workspace_forbidden",
  // Refused by the image and its registry, before anything is decrypted.
  "not_found",
  "image_disabled",
  "registry_disabled",
  "registry_deleted",
  "registry_host_mismatch",
  // The stored credential could not be decrypted with the configured keys.
  "credential_undecryptable",
  // A cloud registry's credential could not be exchanged for a token (the provider refused).
  "exchange_failed",
] as const satisfies readonly ("issued" | ProblemCode)[];

export type PullCredentialOutcome = (typeof PULL_CREDENTIAL_OUTCOMES)[number];

/** The outcomes that refuse: each is also the problem code the refusal answers with. */
export type PullCredentialRefusal = Exclude<PullCredentialOutcome, "issued">;
