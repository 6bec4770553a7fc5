import { describe, expect, it } from "vitest";
import type { NewRegistry, RegistryListQuery, RegistryRecord } from "../db/records.js";
import { REGISTRY_NAME_UNIQUE } from "../db/repositories/registries.js";
import { createRegistryService, type CreateRegistryInput, type RegistryRepositoryPort, type RegistryService } from "./registries.js";
import type { RegistryAuth } from "./registry-auth.js";
import type { LoginOutcome, RegistryCredentials, RegistryEndpoint } from "./registry-prober.js";
import { justWrittenRecord, NEVER_VERIFIED_OR_USED, TEST_CA_CERTIFICATE as CA } from "@modbox/testkit/fixtures";

const WS = "ws_test";
const ID = "0190a000-0000-7000-8000-000000000001";
const NOW = new Date("2025-02-01T00:00:00.000Z");


type ClaimedKey = Parameters<RegistryService["createClaimingKey"]>[2];

const BASIC: CreateRegistryInput = { name: "prod", server: "registry.example.com", username: "robot", password: "test-password" };
const ECR_SERVER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const ROLE_ARN = "arn:aws:iam::123456789012:role/test-pull";
const TENANT = "11111111-2222-3333-4444-555555555555";
const CLIENT = "66666666-7777-8888-9999-000000000000";
const GCP_KEY = JSON.stringify({ type: "service_account", client_email: "puller@test.iam.gserviceaccount.com", private_key: "test PRIVATE KEY" });

/**
 * The service over a repository that records what is written and listed, a cipher that "seals"
 * by prefixing the context, a budget that counts, and a prober that records each login and
 * answers `outcome`.
 */
function setup(options: { outcome?: LoginOutcome; registryAuth?: RegistryAuth; writeError?: unknown; listed?: RegistryRecord[] } = {}) {
  const inserted: NewRegistry[] = [];
  const claims: unknown[] = [];
  const queries: RegistryListQuery[] = [];
  const logins: { endpoint: RegistryEndpoint; credentials: RegistryCredentials }[] = [];
  let sealed = 0;
  const unused = (name: string) => () => Promise.reject(new Error(`${name} is not used here`));
  const registries: RegistryRepositoryPort = {
    async insert(row) {
      if (options.writeError) throw options.writeError;
      inserted.push(row);
      return justWrittenRecord(row);
    },
    async insertClaimingKey(row, key) {
      if (options.writeError) throw options.writeError;
      inserted.push(row);
      claims.push(key);
      return { record: justWrittenRecord(row), answer: { status: 201, headers: {}, body: JSON.stringify({ id: row.id }) } };
    },
    async findById(workspaceId, id) {
      const found = options.listed?.find((r) => r.workspaceId === workspaceId && r.id === id);
      return found ?? null;
    },
    async list(_workspaceId, query) {
      queries.push(query);
      return (options.listed ?? []).slice(0, query.limit);
    },
    findForUse: unused("findForUse"),
    update: unused("update"),
    updateLocked: unused("updateLocked"),
    recordVerification: unused("recordVerification"),
    softDeleteUnlessLinked: unused("softDeleteUnlessLinked"),
  };
  const service = createRegistryService({
    registries,
    cipher: {
      encrypt: (plaintext, context) => `sealed:${context.workspace_id}/${context.registry_id}:${plaintext}`,
      decrypt: () => {
        throw new Error("a create decrypts nothing");
      },
      keyIdOf: () => "k1",
    },
    budget: {
      async take() {
        sealed++;
      },
    },
    prober: {
      async verifyLogin(endpoint, credentials) {
        logins.push({ endpoint, credentials });
        return options.outcome ?? { status: "verified" };
      },
    },
    ...(options.registryAuth && { registryAuth: options.registryAuth }),
    newId: () => ID,
    now: () => NOW,
  });
  return { service, inserted, claims, queries, logins, sealed: () => sealed };
}

/** What every new registry row holds besides its credential. */
const base = {
  id: ID,
  workspaceId: WS,
  name: "prod",
  email: null,
  enabled: true,
  caCertificate: null,
  createdAt: NOW,
  updatedAt: NOW,
  passwordKeyId: "k1",
};

describe("registry service create: what each auth type stores", () => {
  it("a basic registry stores its username and its password sealed to its row", async () => {
    const { service, inserted, logins } = setup();

    const created = await service.create(WS, BASIC);

    expect(inserted).toStrictEqual([
      {
        ...base,
        server: "registry.example.com",
        username: "robot",
        authType: "basic",
        warnings: [],
        passwordCiphertext: `sealed:${WS}/${ID}:test-password`,
      },
    ]);
    expect(created).toMatchObject({ id: ID, name: "prod", authType: "basic", version: 1 });
    expect(logins).toEqual([]);
  });

  it("a basic registry keeps the provider's warnings about its credential", async () => {
    const { service, inserted } = setup();

    await service.create(WS, { ...BASIC, server: "ghcr.io", password: "test-password" });

    expect(inserted[0]?.warnings?.map((w) => w.code)).toEqual(["ghcr_token_format"]);
  });

  it("an aws_ecr registry stores its credential document, used as AWS, without warnings", async () => {
    const { service, inserted } = setup();

    await service.create(WS, { auth_type: "aws_ecr", name: "prod", server: ECR_SERVER, aws_role_arn: ROLE_ARN });

    expect(inserted).toStrictEqual([
      {
        ...base,
        server: ECR_SERVER,
        username: "AWS",
        authType: "aws_ecr",
        warnings: [],
        passwordCiphertext: `sealed:${WS}/${ID}:${JSON.stringify({ role_arn: ROLE_ARN })}`,
      },
    ]);
  });

  it("a gcp_service_account registry stores its JSON key, used as oauth2accesstoken, without warnings", async () => {
    const { service, inserted } = setup();

    await service.create(WS, { auth_type: "gcp_service_account", name: "prod", server: "europe-docker.pkg.dev", gcp_service_account_key: GCP_KEY });

    expect(inserted).toStrictEqual([
      {
        ...base,
        server: "europe-docker.pkg.dev",
        username: "oauth2accesstoken",
        authType: "gcp_service_account",
        warnings: [],
        passwordCiphertext: `sealed:${WS}/${ID}:${GCP_KEY}`,
      },
    ]);
  });

  it("an azure_service_principal registry stores its tenant, client id and secret, used as ACR's all-zero user", async () => {
    const { service, inserted } = setup();

    await service.create(WS, {
      auth_type: "azure_service_principal",
      name: "prod",
      server: "contoso.azurecr.io",
      azure_tenant_id: TENANT,
      azure_client_id: CLIENT,
      azure_client_secret: "test-client-secret",
    });

    const document = JSON.stringify({ tenant_id: TENANT, client_id: CLIENT, client_secret: "test-client-secret" });
    expect(inserted).toStrictEqual([
      {
        ...base,
        server: "contoso.azurecr.io",
        username: "00000000-0000-0000-0000-000000000000",
        authType: "azure_service_principal",
        warnings: [],
        passwordCiphertext: `sealed:${WS}/${ID}:${document}`,
      },
    ]);
  });

  it.each([
    ["aws_ecr", { auth_type: "aws_ecr", name: "prod", server: "registry.example.com", aws_role_arn: ROLE_ARN }, "An aws_ecr registry's server must be an ECR registry host."],
    ["gcp_service_account", { auth_type: "gcp_service_account", name: "prod", server: "registry.example.com", gcp_service_account_key: GCP_KEY }, "A gcp_service_account registry's server must be a Google registry host."],
    [
      "azure_service_principal",
      { auth_type: "azure_service_principal", name: "prod", server: "registry.example.com", azure_tenant_id: TENANT, azure_client_id: CLIENT, azure_client_secret: "test-client-secret" },
      "An azure_service_principal registry's server must be an Azure Container Registry login server.",
    ],
  ] as const)("an %s registry on another provider's host is refused, nothing sealed", async (_, input, detail) => {
    const { service, inserted, sealed } = setup();

    await expect(service.create(WS, input)).rejects.toMatchObject({ code: "validation_failed", detail });
    expect(inserted).toEqual([]);
    expect(sealed()).toBe(0);
  });

  it("stores the email, the CA and a disabled state as given", async () => {
    const { service, inserted } = setup();

    await service.create(WS, { ...BASIC, email: "robot@example.com", ca_certificate: CA, enabled: false });

    expect(inserted[0]).toMatchObject({ email: "robot@example.com", caCertificate: CA, enabled: false });
  });

  it("a disabled registry is saved without verify, and nothing contacts the registry", async () => {
    const { service, inserted, logins } = setup();

    await service.create(WS, { ...BASIC, enabled: false });

    expect(inserted).toHaveLength(1);
    expect(logins).toEqual([]);
  });
});

describe("registry service create with verify=true", () => {
  it("logs in with the new credential, over https, and stores the proof with the registry", async () => {
    const { service, inserted, logins } = setup();

    await service.create(WS, BASIC, { verify: true });

    expect(logins).toEqual([
      { endpoint: { host: "registry.example.com", scheme: "https" }, credentials: { username: "robot", password: "test-password" } },
    ]);
    expect(inserted[0]).toMatchObject({
      verificationStatus: "verified",
      verificationCheckedAt: NOW,
      verificationErrorCode: null,
      verificationDetail: null,
    });
  });

  it("trusts the registry's own CA for that login", async () => {
    const { service, logins } = setup();

    await service.create(WS, { ...BASIC, ca_certificate: CA }, { verify: true });

    expect(logins.map((l) => l.endpoint)).toEqual([{ host: "registry.example.com", scheme: "https", caCertPem: CA }]);
  });

  it("refuses a disabled registry: nothing is sent, sealed or saved", async () => {
    const { service, inserted, logins, sealed } = setup();

    await expect(service.create(WS, { ...BASIC, enabled: false }, { verify: true })).rejects.toMatchObject({
      code: "registry_disabled",
      detail: "This registry is disabled; enable it before using it (verify=true contacts the registry).",
    });
    expect(logins).toEqual([]);
    expect(sealed()).toBe(0);
    expect(inserted).toEqual([]);
  });

  it("an explicitly enabled registry is verified like one that leaves enabled out", async () => {
    const { service, logins } = setup();

    await service.create(WS, { ...BASIC, enabled: true }, { verify: true });

    expect(logins).toHaveLength(1);
  });

  it("refuses credentials the registry refuses, and saves nothing", async () => {
    const { service, inserted } = setup({ outcome: { status: "failed", code: "invalid_credentials", detail: "401 from the registry" } });

    await expect(service.create(WS, BASIC, { verify: true })).rejects.toMatchObject({
      code: "invalid_credentials",
      detail: "The registry refused these credentials; nothing was saved.",
    });
    expect(inserted).toEqual([]);
  });

  it("saves a registry it could not reach, with the failure recorded", async () => {
    const detail = "registry.example.com: the connection was refused";
    const { service, inserted } = setup({ outcome: { status: "failed", code: "registry_unreachable", detail } });

    await service.create(WS, BASIC, { verify: true });

    expect(inserted[0]).toMatchObject({
      verificationStatus: "failed",
      verificationCheckedAt: NOW,
      verificationErrorCode: "registry_unreachable",
      verificationDetail: detail,
    });
  });

  it("saves a registry that allows anonymous access as unverified, and says why", async () => {
    const { service, inserted } = setup({ outcome: { status: "unverified", reason: "anonymous_registry" } });

    await service.create(WS, BASIC, { verify: true });

    expect(inserted[0]).toMatchObject({
      verificationStatus: "unverified",
      verificationCheckedAt: NOW,
      verificationErrorCode: "anonymous_registry",
      verificationDetail: "The registry allows anonymous access, so these credentials cannot be proven.",
    });
  });

  it("a cloud credential this server cannot exchange is saved as exchange_failed, and no login is tried", async () => {
    const { service, inserted, logins } = setup();

    await service.create(WS, { auth_type: "aws_ecr", name: "prod", server: ECR_SERVER, aws_role_arn: ROLE_ARN }, { verify: true });

    expect(logins).toEqual([]);
    expect(inserted[0]).toMatchObject({
      verificationStatus: "failed",
      verificationCheckedAt: NOW,
      verificationErrorCode: "exchange_failed",
      verificationDetail: "The registry's stored credential could not be exchanged for a token: this server cannot exchange aws_ecr credentials",
    });
  });

  it("a cloud registry logs in with the token its credential is exchanged for", async () => {
    const asked: unknown[] = [];
    const registryAuth: RegistryAuth = {
      async derive(registry, secret) {
        asked.push({ ...registry, secret });
        return { ok: true, credential: { username: "AWS", password: "test-token", expiresAt: NOW } };
      },
    };
    const { service, logins } = setup({ registryAuth });

    await service.create(WS, { auth_type: "aws_ecr", name: "prod", server: ECR_SERVER, aws_role_arn: ROLE_ARN }, { verify: true });

    expect(asked).toEqual([
      expect.objectContaining({ id: ID, workspaceId: WS, authType: "aws_ecr", server: ECR_SERVER, secret: JSON.stringify({ role_arn: ROLE_ARN }) }),
    ]);
    expect(logins).toEqual([{ endpoint: { host: ECR_SERVER, scheme: "https" }, credentials: { username: "AWS", password: "test-token" } }]);
  });
});

describe("registry service create under an Idempotency-Key", () => {
  it("writes the registry with the key's claim, never logging in, and answers what the repository wrote", async () => {
    const { service, inserted, claims, logins } = setup();
    const key = { scope: { tokenId: "t1", workspaceId: WS, key: "k" } } as unknown as ClaimedKey;

    const result = await service.createClaimingKey(WS, BASIC, key);

    expect(result).toMatchObject({ record: { id: ID, name: "prod" }, answer: { status: 201 } });
    expect(inserted).toHaveLength(1);
    expect(inserted[0]).not.toHaveProperty("verificationStatus");
    expect(claims).toEqual([key]);
    expect(logins).toEqual([]);
  });

  it("a taken name is registry_name_taken there too", async () => {
    const taken = Object.assign(new Error("duplicate key"), { code: "23505", constraint_name: REGISTRY_NAME_UNIQUE });
    const { service } = setup({ writeError: taken });

    await expect(service.createClaimingKey(WS, BASIC, {} as ClaimedKey)).rejects.toMatchObject({ code: "registry_name_taken" });
  });
});

describe("registry service create: a name already taken", () => {
  it.each([
    ["the name's unique index", { code: "23505", constraint_name: REGISTRY_NAME_UNIQUE }],
    ["an unnamed unique violation", { code: "23505" }],
  ])("a unique violation of %s is registry_name_taken", async (_, fields) => {
    const { service } = setup({ writeError: Object.assign(new Error("duplicate key"), fields) });

    await expect(service.create(WS, BASIC)).rejects.toMatchObject({
      code: "registry_name_taken",
      detail: "A registry with this name already exists in the workspace.",
    });
  });

  it.each([
    ["a unique violation of another constraint", { code: "23505", constraint_name: "registries_pkey" }],
    ["a foreign key violation", { code: "23503" }],
    ["an error without a code", {}],
  ])("%s propagates as it is", async (_, fields) => {
    const failure = Object.assign(new Error("database error"), fields);
    const { service } = setup({ writeError: failure });

    await expect(service.create(WS, BASIC)).rejects.toBe(failure);
  });
});

describe("registry service get and list", () => {
  const record = (id: string, overrides: Partial<RegistryRecord> = {}): RegistryRecord => ({
    id,
    workspaceId: WS,
    name: `registry-${id.slice(-2)}`,
    server: "ghcr.io",
    provider: "ghcr",
    username: "robot",
    email: null,
    enabled: true,
    ...NEVER_VERIFIED_OR_USED,
    createdAt: NOW,
    updatedAt: NOW,
    version: 1,
    ...overrides,
  });
  const rows = ["03", "02", "01"].map((n) => record(`0190a000-0000-7000-8000-0000000000${n}`));

  it("get answers the registry", async () => {
    const { service } = setup({ listed: rows });

    expect(await service.get(WS, rows[1]!.id)).toBe(rows[1]);
  });

  it("get of a registry that is not there is not_found", async () => {
    const { service } = setup({ listed: rows });

    await expect(service.get("ws_other", rows[1]!.id)).rejects.toMatchObject({ code: "not_found", detail: "Registry not found." });
  });

  it("lists with the server filter as it is stored, asking one row more than the page to know if another follows", async () => {
    const { service, queries } = setup({ listed: rows });

    const page = await service.list(WS, { limit: 2, server: "HTTPS://GHCR.io:443/", enabled: true });

    expect(queries).toEqual([{ enabled: true, server: "ghcr.io", limit: 3 }]);
    expect(page.items).toEqual(rows.slice(0, 2));
    expect(page.nextCursor).not.toBeNull();
  });

  it("the next page continues after the last row of this one, under the same filters", async () => {
    const { service, queries } = setup({ listed: rows });

    const first = await service.list(WS, { limit: 2, enabled: false });
    await service.list(WS, { limit: 2, enabled: false, cursor: first.nextCursor! });

    expect(queries[1]).toEqual({ enabled: false, beforeId: rows[1]!.id, limit: 3 });
  });

  it("without filters, lists everything: the last page has no cursor", async () => {
    const { service, queries } = setup({ listed: rows });

    const page = await service.list(WS, { limit: 5 });

    expect(queries).toEqual([{ limit: 6 }]);
    expect(page).toEqual({ items: rows, nextCursor: null });
  });

  it("a server filter that is no server names no registry: an empty page, without a query", async () => {
    const { service, queries } = setup({ listed: rows });

    const page = await service.list(WS, { limit: 5, server: "not a server" });

    expect(page).toEqual({ items: [], nextCursor: null });
    expect(queries).toEqual([]);
  });
});
