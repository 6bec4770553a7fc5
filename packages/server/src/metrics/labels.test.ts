import { contractEnum } from "@modbox/testkit/contract";
import { describe, expect, it } from "vitest";
import { NO_ERROR_CODE, PULL_CREDENTIAL_OUTCOMES, VERIFICATION_LABEL_SETS, verificationLabels } from "./labels.js";

describe("the counters' label values", () => {
  it("verification: every status and error code of the contract, `none` for null, and nothing else", () => {
    const statuses = new Set(VERIFICATION_LABEL_SETS.map((l) => l.status));
    const codes = new Set(VERIFICATION_LABEL_SETS.map((l) => l.error_code));
    expect([...statuses].sort()).toEqual([...contractEnum("Verification", "status")].sort());
    expect([...codes].sort()).toEqual(contractEnum("Verification", "error_code").map((c) => c ?? NO_ERROR_CODE).sort());
  });

  it("verification: the labels are what the registry stores for that login", () => {
    expect(verificationLabels({ status: "verified" })).toEqual({ status: "verified", error_code: "none" });
    expect(verificationLabels({ status: "unverified", reason: "anonymous_registry" })).toEqual({
      status: "unverified",
      error_code: "anonymous_registry",
    });
    expect(verificationLabels({ status: "failed", code: "tls_error", detail: "the certificate of registry.example is expired" })).toEqual({
      status: "failed",
      error_code: "tls_error",
    });
  });

  it("pull credentials: the audit's outcomes, `issued` or a problem code of the contract", () => {
    expect(PULL_CREDENTIAL_OUTCOMES).toContain("issued");
    const problemCodes = contractEnum("Problem", "code");
    for (const outcome of PULL_CREDENTIAL_OUTCOMES.filter((o) => o !== "issued")) expect(problemCodes).toContain(outcome);
  });
});
