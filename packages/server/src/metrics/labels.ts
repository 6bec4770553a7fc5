/**
 * The label values of the feature counters, each from its one source: a pull-credential outcome is
 * what the audit records (db/pull-credential-outcomes.ts), a verification is the contract's
 * `Verification.status` and `Verification.error_code` (`none` for null). The lists are checked
 * against the types generated from openapi.yaml, so a code added to the contract stops this file
 * compiling until it is listed; labels.test.ts holds them to the file as written.
 */
import type { components } from "@modbox/sdk/openapi";
import { PULL_CREDENTIAL_OUTCOMES } from "../db/pull-credential-outcomes.js";
import type { LoginOutcome, VerificationErrorCode } from "../services/registry-prober.js";

export { PULL_CREDENTIAL_OUTCOMES };

type VerificationStatus = components["schemas"]["Verification"]["status"];

/**
 * A verification's outcome: a login's, or a cloud credential the provider would not exchange
 * (the login could not be tried; `exchange_failed`).
 */
export type VerificationOutcome = LoginOutcome | { status: "failed"; code: "exchange_failed"; detail: string };

/** `error_code` when the contract's is null. */
export const NO_ERROR_CODE = "none";

export interface VerificationLabels {
  status: VerificationStatus;
  error_code: NonNullable<components["schemas"]["Verification"]["error_code"]> | typeof NO_ERROR_CODE;
}

const FAILURE_CODES = Object.keys({
  exchange_failed: true,
  invalid_credentials: true,
  registry_unreachable: true,
  unsupported_auth: true,
  tls_error: true,
  address_not_allowed: true,
  insecure_realm: true,
  registry_error: true,
} satisfies Record<VerificationErrorCode | "exchange_failed", true>) as (VerificationErrorCode | "exchange_failed")[];

/** The labels of one login's outcome, as `toVerification` stores it on the registry. */
export function verificationLabels(outcome: VerificationOutcome): VerificationLabels {
  switch (outcome.status) {
    case "verified":
      return { status: "verified", error_code: NO_ERROR_CODE };
    case "unverified":
      return { status: "unverified", error_code: outcome.reason };
    case "failed":
      return { status: "failed", error_code: outcome.code };
  }
}

/** Every pair a login can produce, so each series exists (at 0) from the first scrape. */
export const VERIFICATION_LABEL_SETS: readonly VerificationLabels[] = [
  verificationLabels({ status: "verified" }),
  verificationLabels({ status: "unverified", reason: "anonymous_registry" }),
  ...FAILURE_CODES.map((code) => verificationLabels({ status: "failed", code, detail: "" } as VerificationOutcome)),
];
