/**
 * What the services need from the registry HTTP API v2 client, as a port: compose.ts binds the
 * real client (registry-protocol/outbound) to the operator's outbound policy; unit tests pass
 * fakes.
 */
import type {
  PullCheckResult,
  RegistryCredentials,
  RegistryEndpoint,
  VerifyResult,
} from "../registry-protocol/outbound/types.js";

export type {
  PullCheckErrorCode,
  RegistryCredentials,
  RegistryEndpoint,
  VerificationErrorCode,
} from "../registry-protocol/outbound/types.js";

export type LoginOutcome = VerifyResult;
export type ManifestOutcome = PullCheckResult;

export interface RegistryProber {
  verifyLogin(endpoint: RegistryEndpoint, credentials: RegistryCredentials): Promise<LoginOutcome>;
  checkPull(
    endpoint: RegistryEndpoint,
    repository: string,
    reference: string,
    credentials: RegistryCredentials | null,
  ): Promise<ManifestOutcome>;
}
