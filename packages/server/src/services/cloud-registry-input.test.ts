import { describe, expect, it } from "vitest";
import type { RegistryAuthType } from "../db/records.js";
import {
  acrServerOrThrow,
  awsEcrSecretOf,
  azureSecretOf,
  checkCredentialFieldsFit,
  ecrServerOrThrow,
  gcpKeyOrThrow,
  googleServerOrThrow,
} from "./cloud-registry-input.js";

/** The 422 a rule raises: its code, its detail and the fields it names. */
const validationFailed = (detail: string, fieldErrors: { path: string; message: string }[]) =>
  expect.objectContaining({ name: "DomainError", code: "validation_failed", detail, fieldErrors });

describe("the server of a cloud registry", () => {
  describe("ecrServerOrThrow", () => {
    it.each([
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team",
      "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
    ])("keeps the ECR host %s", (server) => {
      expect(ecrServerOrThrow(server)).toBe(server);
    });

    it.each(["ghcr.io", "123456789012.dkr.ecr.eu-west-1.amazonaws.com:5000", "http://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "contoso.azurecr.io"])(
      "refuses %s at /body/server with an example of an ECR host",
      (server) => {
        expect(() => ecrServerOrThrow(server)).toThrow(
          validationFailed("An aws_ecr registry's server must be an ECR registry host.", [
            {
              path: "/body/server",
              message:
                "must be an ECR registry host such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com (FIPS, dual-stack .on.aws and China hosts too), without a port",
            },
          ]),
        );
      },
    );
  });

  describe("googleServerOrThrow", () => {
    it.each(["europe-docker.pkg.dev", "europe-docker.pkg.dev/my-project/images", "gcr.io", "gcr.io/project"])("keeps the Google host %s", (server) => {
      expect(googleServerOrThrow(server)).toBe(server);
    });

    it.each(["ghcr.io", "gcr.io:5000", "http://gcr.io", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"])(
      "refuses %s at /body/server with an example of a Google host",
      (server) => {
        expect(() => googleServerOrThrow(server)).toThrow(
          validationFailed("A gcp_service_account registry's server must be a Google registry host.", [
            { path: "/body/server", message: "must be a Google registry host such as europe-docker.pkg.dev or gcr.io, without a port" },
          ]),
        );
      },
    );
  });

  describe("acrServerOrThrow", () => {
    it.each(["contoso.azurecr.io", "contoso.azurecr.cn/team", "contoso.azurecr.us"])("keeps the ACR login server %s", (server) => {
      expect(acrServerOrThrow(server)).toBe(server);
    });

    it.each(["ghcr.io", "contoso.azurecr.io:8443", "http://contoso.azurecr.io", "europe-docker.pkg.dev"])(
      "refuses %s at /body/server with an example of an ACR login server",
      (server) => {
        expect(() => acrServerOrThrow(server)).toThrow(
          validationFailed("An azure_service_principal registry's server must be an Azure Container Registry login server.", [
            { path: "/body/server", message: "must be an ACR login server such as contoso.azurecr.io (or .azurecr.cn, .azurecr.us), without a port" },
          ]),
        );
      },
    );
  });
});

describe("azureSecretOf", () => {
  const TENANT = "11111111-2222-3333-4444-555555555555";
  const CLIENT = "66666666-7777-8888-9999-aaaaaaaaaaaa";
  const TENANT_ERROR = { path: "/body/azure_tenant_id", message: "must be a tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com" };
  const CLIENT_ERROR = { path: "/body/azure_client_id", message: "must be an application (client) id: a GUID" };
  const SECRET_ERROR = { path: "/body/azure_client_secret", message: "is required with azure_tenant_id and azure_client_id" };
  const DETAIL = "An azure_service_principal credential is a tenant, a client id and a client secret.";

  it.each(["create", "update"] as const)("seals the tenant, client id and secret as one document (%s)", (mode) => {
    expect(azureSecretOf({ azure_tenant_id: TENANT, azure_client_id: CLIENT, azure_client_secret: "test-secret" }, mode)).toBe(
      `{"tenant_id":"${TENANT}","client_id":"${CLIENT}","client_secret":"test-secret"}`,
    );
  });

  it("takes a verified domain as the tenant", () => {
    expect(azureSecretOf({ azure_tenant_id: "contoso.onmicrosoft.com", azure_client_id: CLIENT, azure_client_secret: "test-secret" }, "create")).toBe(
      `{"tenant_id":"contoso.onmicrosoft.com","client_id":"${CLIENT}","client_secret":"test-secret"}`,
    );
  });

  it("an update that sends no azure field keeps the stored credential", () => {
    expect(azureSecretOf({}, "update")).toBeUndefined();
  });

  it.each([
    ["create without any azure field", {}, "create", [TENANT_ERROR, CLIENT_ERROR, SECRET_ERROR]],
    ["update with the tenant only", { azure_tenant_id: TENANT }, "update", [CLIENT_ERROR, SECRET_ERROR]],
    ["update with the client id only", { azure_client_id: CLIENT }, "update", [TENANT_ERROR, SECRET_ERROR]],
    ["update with the secret only", { azure_client_secret: "test-secret" }, "update", [TENANT_ERROR, CLIENT_ERROR]],
    ["tenant and client id without the secret", { azure_tenant_id: TENANT, azure_client_id: CLIENT }, "create", [SECRET_ERROR]],
    ["an empty secret", { azure_tenant_id: TENANT, azure_client_id: CLIENT, azure_client_secret: "" }, "create", [SECRET_ERROR]],
    ["a tenant that would steer the token URL", { azure_tenant_id: "../common", azure_client_id: CLIENT, azure_client_secret: "test-secret" }, "create", [TENANT_ERROR]],
    ["a client id that is not a GUID", { azure_tenant_id: TENANT, azure_client_id: "my-app", azure_client_secret: "test-secret" }, "update", [CLIENT_ERROR]],
    ["nothing valid", { azure_tenant_id: "common", azure_client_id: "my-app", azure_client_secret: "" }, "update", [TENANT_ERROR, CLIENT_ERROR, SECRET_ERROR]],
  ] as const)("refuses %s, naming every missing or malformed field", (_name, fields, mode, fieldErrors) => {
    expect(() => azureSecretOf(fields, mode)).toThrow(validationFailed(DETAIL, [...fieldErrors]));
  });
});

describe("gcpKeyOrThrow", () => {
  const key = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: "service_account",
      client_email: "puller@test-project.iam.gserviceaccount.com",
      private_key: "-----BEGIN PRIVATE KEY-----\ntest-not-a-key\n-----END PRIVATE KEY-----\n",
      ...extra,
    });

  it("no key sent: nothing to store", () => {
    expect(gcpKeyOrThrow(undefined)).toBeUndefined();
  });

  it.each([
    ["without a token_uri", key()],
    ["naming Google's token endpoint", key({ token_uri: "https://oauth2.googleapis.com/token" })],
  ])("keeps a service-account key %s, exactly as sent", (_name, text) => {
    expect(gcpKeyOrThrow(text)).toBe(text);
  });

  it.each([
    ["text that is not JSON", "not json", "must be a service-account JSON key (it is not JSON)"],
    [
      "a key of another type",
      key({ type: "authorized_user" }),
      'must be a service-account JSON key ("type": "service_account", with client_email and private_key)',
    ],
    [
      "a key whose token_uri is elsewhere",
      key({ token_uri: "https://tokens.example.com/token" }),
      "must name Google's token endpoint as its token_uri (https://oauth2.googleapis.com/token): this server sends a signed assertion nowhere else",
    ],
  ])("refuses %s at /body/gcp_service_account_key", (_name, text, message) => {
    expect(() => gcpKeyOrThrow(text)).toThrow(
      validationFailed("The service-account key cannot be used.", [{ path: "/body/gcp_service_account_key", message }]),
    );
  });
});

describe("awsEcrSecretOf", () => {
  const ROLE = "arn:aws:iam::123456789012:role/test-puller";
  const NEEDS_A_CREDENTIAL = validationFailed("An aws_ecr registry needs a credential.", [
    { path: "/body/aws_role_arn", message: "is required unless aws_access_key_id and aws_secret_access_key are sent" },
  ]);

  it.each(["create", "update"] as const)("seals a role as its ARN (%s)", (mode) => {
    expect(awsEcrSecretOf({ aws_role_arn: ROLE }, mode)).toBe(`{"role_arn":"${ROLE}"}`);
  });

  it.each(["create", "update"] as const)("seals a key pair as its id and secret (%s)", (mode) => {
    expect(awsEcrSecretOf({ aws_access_key_id: "test-key-id", aws_secret_access_key: "test-secret" }, mode)).toBe(
      '{"access_key_id":"test-key-id","secret_access_key":"test-secret"}',
    );
  });

  it.each(["create", "update"] as const)("refuses a key pair and a role together (%s)", (mode) => {
    expect(() => awsEcrSecretOf({ aws_access_key_id: "test-key-id", aws_secret_access_key: "test-secret", aws_role_arn: ROLE }, mode)).toThrow(
      validationFailed("An aws_ecr credential is a key pair or a role, not both.", [
        { path: "/body/aws_role_arn", message: "must not be sent with aws_access_key_id and aws_secret_access_key: send a key pair or a role" },
      ]),
    );
  });

  it.each([
    ["no aws field", {}],
    ["a key id without its secret", { aws_access_key_id: "test-key-id" }],
    ["a secret without its key id", { aws_secret_access_key: "test-secret" }],
  ])("a create with %s needs a credential", (_name, fields) => {
    expect(() => awsEcrSecretOf(fields, "create")).toThrow(NEEDS_A_CREDENTIAL);
  });

  it.each([
    ["no aws field", {}],
    ["a key id without its secret", { aws_access_key_id: "test-key-id" }],
    ["a secret without its key id", { aws_secret_access_key: "test-secret" }],
  ])("an update with %s keeps the stored credential", (_name, fields) => {
    expect(awsEcrSecretOf(fields, "update")).toBeUndefined();
  });
});

describe("checkCredentialFieldsFit", () => {
  const refusal = (authType: RegistryAuthType, fields: string[]) =>
    validationFailed(
      `This registry's auth_type is ${authType}; its credential fields are the ones of that type.`,
      fields.map((field) => ({
        path: `/body/${field}`,
        message: `is not a field of ${authType} registries (auth_type cannot change: create another registry)`,
      })),
    );

  it.each([
    ["basic", { username: "ci", password: "test-secret", name: "mirror" }],
    ["aws_ecr", { aws_access_key_id: "test-key-id", aws_secret_access_key: "test-secret", aws_role_arn: undefined }],
    ["gcp_service_account", { gcp_service_account_key: "{}", server: "gcr.io" }],
    ["azure_service_principal", { azure_tenant_id: "contoso.onmicrosoft.com", azure_client_id: "x", azure_client_secret: "test-secret" }],
    ["basic", {}],
  ] as const)("a %s registry takes its own fields", (authType, input) => {
    expect(() => checkCredentialFieldsFit(authType, input)).not.toThrow();
  });

  it.each([
    ["basic", { username: "ci", aws_role_arn: "arn:aws:iam::123456789012:role/test-puller" }, ["aws_role_arn"]],
    ["aws_ecr", { username: "ci", password: "test-secret", gcp_service_account_key: "{}" }, ["username", "password", "gcp_service_account_key"]],
    ["gcp_service_account", { aws_access_key_id: "test-key-id", azure_client_secret: "test-secret" }, ["aws_access_key_id", "azure_client_secret"]],
    ["azure_service_principal", { password: "test-secret", azure_tenant_id: "contoso.onmicrosoft.com" }, ["password"]],
  ] as const)("a %s registry refuses another type's fields, naming each one sent", (authType, input, fields) => {
    expect(() => checkCredentialFieldsFit(authType, input)).toThrow(refusal(authType, [...fields]));
  });
});
