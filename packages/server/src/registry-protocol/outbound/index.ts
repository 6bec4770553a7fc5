/** Outbound calls to user-chosen registries: SSRF-guarded HTTPS and the registry API v2 client. */
export { classifyAddress, isAllowed, isIpLiteral, type AddressClass, type AddressPolicy } from "./address-policy.js";
export { parseWwwAuthenticate, pickChallenge, type AuthChallenge } from "./challenge.js";
export { OutboundError, isOutboundError, type OutboundErrorCode } from "./errors.js";
export {
  headerValue,
  outboundRequest,
  type OutboundRequest,
  type OutboundResponse,
  type Send,
} from "./http.js";
export { DEFAULT_MAX_REDIRECTS, followRedirects, type FollowRedirectsOptions } from "./redirects.js";
export {
  resolveTarget,
  systemLookup,
  type CheckedAddress,
  type LookupAddress,
  type LookupFn,
  type ResolveOptions,
  type ResolvedTarget,
} from "./resolve.js";
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  type OutboundOptions,
  type PullCheckErrorCode,
  type PullCheckResult,
  type RegistryCredentials,
  type RegistryEndpoint,
  type VerificationErrorCode,
  type VerifyResult,
} from "./types.js";
export { MANIFEST_ACCEPT, checkPull, verifyLogin } from "./v2-client.js";
