/**
 * `@modbox/sdk`: a typed client of the Modbox Registries API.
 *
 * @example
 * ```ts
 * import { createClient, NotFoundError } from "@modbox/sdk";
 *
 * const client = createClient({ baseUrl, token: process.env.MODBOX_TOKEN!, workspaceId: "acme" });
 * for await (const registry of client.registries.list({ enabled: true })) console.log(registry.name);
 * ```
 * @module
 */
export { createClient, ModboxClient, type ClientOptions } from "./client.js";
export type {
  RequestOptions,
  IdempotentRequestOptions,
  ConditionalRequestOptions,
  ConditionalReadOptions,
} from "./request-options.js";
export { APIPromise, type APIResponse, type VersionedResponse } from "./api-promise.js";
export type { Fetch } from "./transport.js";
export { Registries } from "./resources/registries.js";
export { SandboxImages } from "./resources/sandbox-images.js";
export { Provisioning } from "./resources/provisioning.js";
export { Tokens } from "./resources/tokens.js";
export type { RawClient } from "./resources/context.js";
export { Page, PagePromise, type PageResponse } from "./pagination.js";
export {
  ModboxError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  PreconditionFailedError,
  PayloadTooLargeError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  ServiceUnavailableError,
  ConnectionError,
  TimeoutError,
} from "./errors.js";
export type {
  Registry,
  RegistryCreate,
  RegistryCreateBasic,
  RegistryCreateAwsEcr,
  RegistryCreateAzureServicePrincipal,
  RegistryAuthType,
  RegistryUpdate,
  RegistryListQuery,
  SandboxImage,
  SandboxImageCreate,
  SandboxImageUpdate,
  SandboxImageListQuery,
  Problem,
  ProblemCode,
  ProblemFieldError,
  Verification,
  VerificationErrorCode,
  CredentialWarning,
  PullCheck,
  PullCheckErrorCode,
  PullCredentials,
  RuntimeAuth,
  Token,
  TokenCreate,
  TokenCreated,
  TokenListQuery,
  TokenScope,
} from "./types.js";
export type { ScopedPaths } from "./scoped-paths.js";
export type { paths, components, operations } from "./generated/openapi.js";
