// Type tests: checked by `vitest` (typecheck mode) and by `tsc -p packages/sdk`; never run.
import { describe, expectTypeOf, test } from "vitest";
import {
  createClient,
  type APIPromise,
  type APIResponse,
  type PullCredentials,
  type VersionedResponse,
  type Page,
  type PagePromise,
  type Registry,
  type RegistryCreate,
  type RegistryCreateAwsEcr,
  type RegistryCreateAzureServicePrincipal,
  type RegistryCreateBasic,
  type RegistryUpdate,
  type SandboxImage,
  type SandboxImageCreate,
  type APIError,
  type ProblemCode,
  type PullCheck,
  type PullCheckErrorCode,
  type Verification,
  type VerificationErrorCode,
  type UnprocessableEntityError,
  type Token,
  type TokenCreate,
  type TokenCreated,
  type components,
} from "./index.js";
import type { Readable } from "./generated/openapi.js";

const client = createClient({ baseUrl: "http://api.test", token: "mbx_x", workspaceId: "ws" });
declare const registry: Registry;

describe("the write-only password", () => {
  test("cannot be read from a registry", () => {
    expectTypeOf<Registry>().not.toHaveProperty("password");
    // @ts-expect-error `password` is write-only: it does not exist on a response
    void registry.password;
  });

  test("is stripped by the readable view even where the schema declares it", () => {
    // RegistryCreateBasic declares `password` (writeOnly): its response view drops it. This is
    // what keeps it out of Registry should the schema ever list it there too.
    expectTypeOf<components["schemas"]["RegistryCreateBasic"]>().toHaveProperty("password");
    expectTypeOf<Readable<components["schemas"]["RegistryCreateBasic"]>>().not.toHaveProperty(
      "password",
    );
    // The same for an aws_ecr registry's secrets.
    expectTypeOf<components["schemas"]["RegistryCreateAwsEcr"]>().toHaveProperty("aws_secret_access_key");
    expectTypeOf<Readable<components["schemas"]["RegistryCreateAwsEcr"]>>().not.toHaveProperty(
      "aws_secret_access_key",
    );
    expectTypeOf<Registry>().not.toHaveProperty("aws_secret_access_key");
    expectTypeOf<Registry>().not.toHaveProperty("aws_role_arn");
    // And an azure_service_principal registry's: the secret and the ids it is sealed with.
    expectTypeOf<components["schemas"]["RegistryCreateAzureServicePrincipal"]>().toHaveProperty("azure_client_secret");
    expectTypeOf<Readable<components["schemas"]["RegistryCreateAzureServicePrincipal"]>>().not.toHaveProperty("azure_client_secret");
    expectTypeOf<Registry>().not.toHaveProperty("azure_client_secret");
    expectTypeOf<Registry>().not.toHaveProperty("azure_tenant_id");
  });

  test("is not in what the resources return", () => {
    expectTypeOf(client.registries.get("id")).resolves.toEqualTypeOf<Registry>();
    expectTypeOf(client.registries.create).returns.resolves.not.toHaveProperty("password");
    expectTypeOf(client.registries.update).returns.resolves.not.toHaveProperty("password");
  });

  test("is a plain string in request bodies (the $Write marker is gone)", () => {
    expectTypeOf<RegistryCreateBasic["password"]>().toEqualTypeOf<string>();
    expectTypeOf<RegistryCreateAwsEcr["aws_secret_access_key"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<RegistryCreateAzureServicePrincipal["azure_client_secret"]>().toEqualTypeOf<string>();
    expectTypeOf<RegistryUpdate["password"]>().toEqualTypeOf<string | undefined>();
  });

  test("is not readable through client.raw either", async () => {
    const { data } = await client.raw.GET("/registries/{registry_id}", {
      params: { path: { registry_id: "id" } },
    });
    expectTypeOf(data).toEqualTypeOf<Registry | undefined>();
    // @ts-expect-error `password` is write-only
    void data?.password;
  });
});

describe("request bodies", () => {
  test("create requires password and the other required fields", () => {
    // @ts-expect-error `password` is required
    void client.registries.create({ name: "r", server: "ghcr.io", username: "u" });
    // @ts-expect-error `image` is required
    void client.sandboxImages.create({ name: "app" });
    void client.registries.create({ name: "r", server: "ghcr.io", username: "u", password: "p" });
  });

  test("update accepts a partial body", () => {
    void client.registries.update("id", { password: "rotated" });
    void client.registries.update("id", { enabled: false });
    void client.registries.update("id", { email: null });
    void client.sandboxImages.update("id", { registry_id: null });
  });

  test("unknown fields are rejected", () => {
    const base = { name: "r", server: "ghcr.io", username: "u", password: "p" };
    // @ts-expect-error `region` is not a registry field
    void client.registries.create({ ...base, region: "eu" });
    // @ts-expect-error `passwrd` is a typo
    void client.registries.update("id", { passwrd: "p" });
    // @ts-expect-error `memory` is not a sandbox image field (it is `memory_mb`)
    void client.sandboxImages.update("id", { memory: 512 });
  });

  test("field types follow the contract", () => {
    // @ts-expect-error `enabled` is a boolean
    void client.registries.update("id", { enabled: "no" });
    expectTypeOf<SandboxImageCreate["memory_mb"]>().toEqualTypeOf<number | undefined>();
  });
});

describe("lists", () => {
  test("await gives a page, iteration gives items", async () => {
    const list = client.registries.list({ enabled: true, server: "ghcr.io", limit: 10 });
    expectTypeOf(list).toEqualTypeOf<PagePromise<Registry>>();
    const page = await list;
    expectTypeOf(page).toEqualTypeOf<Page<Registry>>();
    expectTypeOf(page.data).toEqualTypeOf<Registry[]>();
    expectTypeOf(page.nextCursor).toEqualTypeOf<string | null>();
    for await (const image of client.sandboxImages.list()) {
      expectTypeOf(image).toEqualTypeOf<SandboxImage>();
    }
  });

  test("unknown filters are rejected", () => {
    // @ts-expect-error `name` is not a registry filter
    void client.registries.list({ name: "x" });
    // @ts-expect-error `enabled` is a boolean
    void client.sandboxImages.list({ enabled: "true" });
  });
});

describe("client.raw", () => {
  test("unknown paths and methods are type errors", () => {
    // @ts-expect-error no such path
    void client.raw.GET("/nope");
    // @ts-expect-error the contract has no PATCH
    void client.raw.PATCH("/registries/{registry_id}", { params: { path: { registry_id: "x" } } });
  });

  test("X-Workspace-Id is optional (the client sends it) but still typed", () => {
    void client.raw.GET("/registries", { params: { query: { enabled: true } } });
    void client.raw.GET("/registries", { params: { header: { "X-Workspace-Id": "other" } } });
    // @ts-expect-error path params stay required
    void client.raw.GET("/registries/{registry_id}", {});
  });
});

test("422 errors carry typed field errors", () => {
  expectTypeOf<UnprocessableEntityError["errors"]>().toEqualTypeOf<
    { path: string; message: string }[]
  >();
});

test("generated types are exported", () => {
  expectTypeOf<components["schemas"]["Registry"]["id"]>().toEqualTypeOf<string>();
});

describe("problem codes", () => {
  test("an error's code is one of the contract's codes", () => {
    expectTypeOf<APIError["code"]>().toEqualTypeOf<ProblemCode | undefined>();
    expectTypeOf<"registry_name_taken">().toMatchTypeOf<ProblemCode>();
    expectTypeOf<"encryption_key_unavailable">().toMatchTypeOf<ProblemCode>();
    // @ts-expect-error a code the contract does not have
    const unknown: ProblemCode = "registry_name_taken_twice";
    void unknown;
  });
});

describe("verification and pull-check codes", () => {
  test("a verification's error_code is one of the contract's codes, or null", () => {
    expectTypeOf<Verification["error_code"]>().toEqualTypeOf<VerificationErrorCode | null>();
    expectTypeOf<Registry["verification"]["error_code"]>().toEqualTypeOf<VerificationErrorCode | null>();
    expectTypeOf<"invalid_credentials">().toMatchTypeOf<VerificationErrorCode>();
    expectTypeOf<"anonymous_registry">().toMatchTypeOf<VerificationErrorCode>();
    // @ts-expect-error a pull-check code is not a verification code
    const unknown: VerificationErrorCode = "image_not_found";
    void unknown;
  });

  test("a pull check's error_code is one of the contract's codes, or null", () => {
    expectTypeOf<PullCheck["error_code"]>().toEqualTypeOf<PullCheckErrorCode | null>();
    expectTypeOf<"registry_auth_failed">().toMatchTypeOf<PullCheckErrorCode>();
    expectTypeOf<"credential_undecryptable">().toMatchTypeOf<PullCheckErrorCode>();
    // @ts-expect-error a login failure is `registry_auth_failed` in a pull check
    const unknown: PullCheckErrorCode = "invalid_credentials";
    void unknown;
  });
});

describe("what resource methods resolve", () => {
  test("awaiting gives the plain data", () => {
    expectTypeOf(client.registries.get("id")).resolves.toEqualTypeOf<Registry>();
    expectTypeOf(client.registries.create({ name: "r", server: "s", username: "u", password: "p" })).resolves.toEqualTypeOf<Registry>();
    expectTypeOf(client.sandboxImages.update("id", { tag: "v2" })).resolves.toEqualTypeOf<SandboxImage>();
    expectTypeOf(client.registries.verify("id")).resolves.toEqualTypeOf<Verification>();
    expectTypeOf(client.sandboxImages.delete("id")).resolves.toEqualTypeOf<void>();
    expectTypeOf(client.provisioning.pullCredentials("id")).resolves.toEqualTypeOf<PullCredentials>();
  });

  test("a single object's withResponse has its ETag; other calls' have none", async () => {
    const got = await client.registries.get("id").withResponse();
    expectTypeOf(got).toEqualTypeOf<VersionedResponse<Registry>>();
    expectTypeOf(got.data).toEqualTypeOf<Registry>();
    expectTypeOf(got.etag).toEqualTypeOf<string | undefined>();
    expectTypeOf(got.requestId).toEqualTypeOf<string | undefined>();
    expectTypeOf(got.response).toEqualTypeOf<Response>();
    expectTypeOf(await client.sandboxImages.create({ name: "a", image: "b" }).withResponse()).toEqualTypeOf<
      VersionedResponse<SandboxImage>
    >();
    const verified = await client.registries.verify("id").withResponse();
    expectTypeOf(verified).toEqualTypeOf<APIResponse<Verification>>();
    // @ts-expect-error a verification is not a versioned object: no ETag
    void verified.etag;
    expectTypeOf(client.registries.delete("id")).toEqualTypeOf<APIPromise<void>>();
  });

  test("get with ifNoneMatch may resolve null (304: the copy held is current)", async () => {
    expectTypeOf(client.registries.get("id", { ifNoneMatch: '"1.a"' })).resolves.toEqualTypeOf<Registry | null>();
    const { data, etag } = await client.sandboxImages.get("id", { ifNoneMatch: '"1.a"' }).withResponse();
    expectTypeOf(data).toEqualTypeOf<SandboxImage | null>();
    expectTypeOf(etag).toEqualTypeOf<string | undefined>();
    // An ETag that may be undefined is not taken for a conditional read: the null answer would
    // then mean nothing.
    const maybe = etag;
    // @ts-expect-error ifNoneMatch must be a string
    void client.registries.get("id", { ifNoneMatch: maybe });
  });
});

describe("per-call options fit their operation", () => {
  test("idempotencyKey only on the POSTs the contract gives a key", () => {
    void client.registries.create({ name: "r", server: "s", username: "u", password: "p" }, { idempotencyKey: "k", verify: true });
    void client.registries.verify("id", { idempotencyKey: "k" });
    void client.sandboxImages.create({ name: "a", image: "b" }, { idempotencyKey: "k" });
    void client.sandboxImages.pullCheck("id", { idempotencyKey: "k" });
    // @ts-expect-error a GET has no Idempotency-Key
    void client.registries.get("id", { idempotencyKey: "k" });
    // @ts-expect-error a PUT has no Idempotency-Key
    void client.sandboxImages.update("id", { tag: "v" }, { idempotencyKey: "k" });
    // @ts-expect-error the contract gives pull credentials no Idempotency-Key
    void client.provisioning.pullCredentials("id", { idempotencyKey: "k" });
  });

  test("ifMatch only on update and delete", () => {
    void client.registries.update("id", { enabled: false }, { ifMatch: '"1.a"', verify: true });
    void client.registries.delete("id", { ifMatch: '"1.a"', force: true });
    void client.sandboxImages.update("id", { tag: "v" }, { ifMatch: '"1.a"' });
    void client.sandboxImages.delete("id", { ifMatch: '"1.a"' });
    // @ts-expect-error a create has no version to match
    void client.sandboxImages.create({ name: "a", image: "b" }, { ifMatch: '"1.a"' });
    // @ts-expect-error If-Match is not a GET option (If-None-Match is)
    void client.registries.get("id", { ifMatch: '"1.a"' });
  });
});

describe("tokens", () => {
  test("a token is shown by create only: Token has no `token`, TokenCreated has it", () => {
    expectTypeOf<Token>().not.toHaveProperty("token");
    expectTypeOf<TokenCreated>().toHaveProperty("token").toEqualTypeOf<string>();
    expectTypeOf(client.tokens.create({ name: "ci", scope: "workspace", workspaces: ["acme"] })).toEqualTypeOf<APIPromise<TokenCreated>>();
    expectTypeOf(client.tokens.get("id")).toEqualTypeOf<APIPromise<Token>>();
    expectTypeOf(client.tokens.list()).toEqualTypeOf<PagePromise<Token>>();
  });

  test("TokenCreate holds the grant rule: exactly one of workspaces and all_workspaces; admin takes all_workspaces", () => {
    expectTypeOf<{ name: string; scope: "provisioner"; workspaces: string[] }>().toExtend<TokenCreate>();
    expectTypeOf<{ name: string; scope: "admin"; all_workspaces: true }>().toExtend<TokenCreate>();
    // @ts-expect-error neither grant
    void client.tokens.create({ name: "ci", scope: "workspace" });
    // @ts-expect-error both grants
    void client.tokens.create({ name: "ci", scope: "workspace", workspaces: ["a"], all_workspaces: true });
    // @ts-expect-error an admin token is granted every workspace
    void client.tokens.create({ name: "ops", scope: "admin", workspaces: ["a"] });
    // @ts-expect-error no Idempotency-Key option: the answer is the token, never stored to replay
    void client.tokens.create({ name: "ci", scope: "workspace", workspaces: ["a"] }, { idempotencyKey: "k" });
  });
});
