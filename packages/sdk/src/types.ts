import type { components, operations, Readable, Writable } from "./generated/openapi.js";

// Every model type is derived from the generated contract, never written by hand, so the SDK
// cannot drift from openapi.yaml. Responses go through `Readable` (write-only fields such as
// `password` vanish), request bodies through `Writable` (read-only fields vanish).
type Schemas = components["schemas"];

/** A stored registry credential, as returned by the API. It has no `password`. */
export type Registry = Readable<Schemas["Registry"]>;
/** The body of `registries.create`: one shape per `auth_type` (left out: `basic`). */
export type RegistryCreate = Writable<Schemas["RegistryCreate"]>;
/** A `basic` registry's body: `username` and `password` (required, and write-only). */
export type RegistryCreateBasic = Writable<Schemas["RegistryCreateBasic"]>;
/**
 * An `aws_ecr` registry's body: `aws_access_key_id` with `aws_secret_access_key`, or
 * `aws_role_arn` (assumed by the server with `ExternalId` = the workspace id); all write-only.
 */
export type RegistryCreateAwsEcr = Writable<Schemas["RegistryCreateAwsEcr"]>;
export type RegistryCreateAzureServicePrincipal = Writable<Schemas["RegistryCreateAzureServicePrincipal"]>;
/** How a registry is authenticated: `basic`, or a cloud type exchanged for short-lived tokens. */
export type RegistryAuthType = Schemas["RegistryAuthType"];
/** The body of `registries.update`: only the fields sent change. */
export type RegistryUpdate = Writable<Schemas["RegistryUpdate"]>;

/** A sandbox image, optionally linked to a registry whose credentials pull it. */
export type SandboxImage = Readable<Schemas["SandboxImage"]>;
/** The body of `sandboxImages.create`. */
export type SandboxImageCreate = Writable<Schemas["SandboxImageCreate"]>;
/** The body of `sandboxImages.update`: only the fields sent change. */
export type SandboxImageUpdate = Writable<Schemas["SandboxImageUpdate"]>;

/** An RFC 9457 problem detail, the body of every error response. */
export type Problem = Schemas["Problem"];
/** One failed validation rule of a `422` problem: where, and which rule (never the value). */
export type ProblemFieldError = NonNullable<Problem["errors"]>[number];
/** Every `code` a problem of this contract may carry (openapi.yaml's enum of `Problem.code`). */
export type ProblemCode = Problem["code"];

/** Filters and paging of `registries.list`. */
export type RegistryListQuery = NonNullable<operations["listRegistries"]["parameters"]["query"]>;
/** Filters and paging of `sandboxImages.list`. */
export type SandboxImageListQuery = NonNullable<
  operations["listSandboxImages"]["parameters"]["query"]
>;

/** The outcome of a login against a registry (`registries.verify`, and `registry.verification`). */
export type Verification = Readable<Schemas["Verification"]>;
/**
 * Why a login failed (`verification.error_code` when `status` is `failed`), or
 * `anonymous_registry` for an unverified anonymous registry: openapi.yaml's enum.
 */
export type VerificationErrorCode = NonNullable<Verification["error_code"]>;
/** Provider advice about a stored credential (never blocks a write). */
export type CredentialWarning = Readable<Schemas["CredentialWarning"]>;
/** Whether an image's linked credentials can pull it (`sandboxImages.pullCheck`). */
export type PullCheck = Readable<Schemas["PullCheck"]>;
/** Why an image cannot be pulled (`pullCheck`'s `error_code`): openapi.yaml's enum. */
export type PullCheckErrorCode = NonNullable<PullCheck["error_code"]>;
/** Decrypted pull credentials in every runtime format (`provisioning.pullCredentials`). */
export type PullCredentials = Readable<Schemas["PullCredentials"]>;
/** One credential as Docker Engine, config.json readers and Kubernetes expect it. */
export type RuntimeAuth = Readable<Schemas["RuntimeAuth"]>;

/** What a token may do: `workspace`, `provisioner` or `admin` (openapi.yaml's `TokenScope`). */
export type TokenScope = Schemas["TokenScope"];
/** An API token as stored (`tokens.get`, `tokens.list`): never the token itself, nor its hash. */
export type Token = Readable<Schemas["Token"]>;
/** The answer of `tokens.create`: the stored token and, only here, the token itself (`token`). */
export type TokenCreated = Readable<Schemas["TokenCreated"]>;
type TokenCreateFields = Writable<Schemas["TokenCreate"]>;
/**
 * The body of `tokens.create`: a name, a scope, and either `workspaces` or `all_workspaces: true`
 * (the contract's rule, here as a union so the compiler holds you to it). An `admin` token takes
 * `all_workspaces: true` only.
 */
export type TokenCreate =
  | (Omit<TokenCreateFields, "scope" | "workspaces" | "all_workspaces"> & {
      scope: Exclude<TokenScope, "admin">;
      workspaces: NonNullable<TokenCreateFields["workspaces"]>;
      all_workspaces?: never;
    })
  | (Omit<TokenCreateFields, "workspaces" | "all_workspaces"> & { all_workspaces: true; workspaces?: never });
/** Filters and paging of `tokens.list`. */
export type TokenListQuery = NonNullable<operations["listTokens"]["parameters"]["query"]>;
