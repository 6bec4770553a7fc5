import { describe, expect, it, vi } from "vitest";
import type { RegistryForUse, RegistryPatch, RegistryRecord } from "../db/records.js";
import { parseInsecureRegistries, type InsecureRegistries } from "../registry-protocol/insecure-registries.js";
import { createRegistryService, type RegistryRepositoryPort } from "./registries.js";
import type { LoginOutcome, RegistryEndpoint } from "./registry-prober.js";
import { FIXTURE_TIME, OTHER_TEST_CA_CERTIFICATE as CA_B, registryForUse, TEST_CA_CERTIFICATE as CA_A } from "@modbox/testkit/fixtures";

const WS = "ws_test";
const ID = "0190a000-0000-7000-8000-000000000001";
const NOW = new Date("2025-02-01T00:00:00.000Z");

const stored = registryForUse({
  verificationStatus: "verified",
  verificationCheckedAt: FIXTURE_TIME,
  passwordCiphertext: `sealed:${WS}/${ID}:old-password`,
});

/**
 * A repository holding one registry that records which reads the service makes; the cipher
 * "seals" by prefixing and records decryptions, the prober records logins.
 */
function setup(
  row: RegistryForUse | null = stored,
  budgetRefusal?: Error,
  options: { insecureRegistries?: InsecureRegistries; outcome?: LoginOutcome; lostRaces?: number; lockedRowGone?: boolean } = {},
) {
  const calls: string[] = [];
  const decrypted: string[] = [];
  const logins: { username: string; password: string }[] = [];
  const endpoints: RegistryEndpoint[] = [];
  const updates: RegistryPatch[] = [];
  const { deletedAt: _d, passwordCiphertext: _c, ...record } = row ?? stored;
  const unused = (name: string) => () => Promise.reject(new Error(`${name} is not used here`));
  const registries: RegistryRepositoryPort = {
    insert: unused("insert"),
    list: unused("list"),
    recordVerification: unused("recordVerification"),
    async updateLocked(workspaceId, id, plan) {
      calls.push("updateLocked");
      if (options.lockedRowGone || !row || row.deletedAt || workspaceId !== row.workspaceId || id !== row.id) return null;
      const patch = await plan(row);
      updates.push(patch);
      const { passwordCiphertext: _pc, passwordKeyId: _pk, ...fields } = patch;
      return { ...record, ...fields, version: row.version + 1 };
    },
    insertClaimingKey: unused("insertClaimingKey"),
    softDeleteUnlessLinked: unused("softDeleteUnlessLinked"),
    async findById(workspaceId, id) {
      calls.push("findById");
      return row && !row.deletedAt && workspaceId === row.workspaceId && id === row.id ? record : null;
    },
    async findForUse(workspaceId, id) {
      calls.push("findForUse");
      return row && workspaceId === row.workspaceId && id === row.id ? row : null;
    },
    async update(workspaceId, id, expectedVersion, patch) {
      calls.push("update");
      updates.push(patch);
      // Another write committed first, `lostRaces` times (bounded: a service that never stops retrying fails here).
      if (updates.length > 40) throw new Error("update called too often");
      if (updates.length <= (options.lostRaces ?? 0)) return null;
      if (!row || row.deletedAt || workspaceId !== row.workspaceId || id !== row.id || expectedVersion !== row.version) return null;
      const { passwordCiphertext: _pc, passwordKeyId: _pk, ...fields } = patch;
      return { ...record, ...fields, version: row.version + 1 } satisfies RegistryRecord;
    },
  };
  const service = createRegistryService({
    registries,
    cipher: {
      encrypt: (plaintext, context) => `sealed:${context.workspace_id}/${context.registry_id}:${plaintext}`,
      decrypt: (envelope, context) => {
        const prefix = `sealed:${context.workspace_id}/${context.registry_id}:`;
        if (!envelope.startsWith(prefix)) throw new Error("wrong context");
        decrypted.push(envelope);
        return envelope.slice(prefix.length);
      },
      keyIdOf: () => "k1",
    },
    budget: {
      async take() {
        calls.push("budget");
        if (budgetRefusal) throw budgetRefusal;
      },
    },
    prober: {
      async verifyLogin(endpoint, credentials) {
        endpoints.push(endpoint);
        logins.push({ username: credentials.username, password: credentials.password });
        return options.outcome ?? { status: "verified" };
      },
    },
    ...(options.insecureRegistries && { insecureRegistries: options.insecureRegistries }),
    newId: () => ID,
    now: () => NOW,
  });
  return { service, calls, decrypted, logins, updates, endpoints };
}

function insecure(spec: string): InsecureRegistries {
  const parsed = parseInsecureRegistries(spec);
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return parsed.registries;
}

describe("registry service update: which read it makes", () => {
  it("a password rotation reads the registry without its ciphertext and decrypts nothing", async () => {
    const { service, calls, decrypted, updates } = setup();

    const updated = await service.update(WS, ID, { password: "new-password" });

    expect(calls).toEqual(["findById", "budget", "update"]);
    expect(decrypted).toEqual([]);
    expect(updates).toStrictEqual([
      {
        updatedAt: NOW,
        warnings: [],
        verificationStatus: "unverified",
        verificationCheckedAt: null,
        verificationErrorCode: null,
        verificationDetail: null,
        passwordCiphertext: `sealed:${WS}/${ID}:new-password`,
        passwordKeyId: "k1",
      },
    ]);
    expect(updated).toMatchObject({ verificationStatus: "unverified", verificationCheckedAt: null });
  });

  it("a rotation with verify logs in with the new password, not the stored one", async () => {
    const { service, calls, decrypted, logins } = setup();

    await service.update(WS, ID, { password: "new-password", username: "robot2" }, { verify: true });

    expect(calls).toEqual(["findById", "budget", "update"]);
    expect(decrypted).toEqual([]);
    expect(logins).toEqual([{ username: "robot2", password: "new-password" }]);
  });

  it("a username change without a password reads and decrypts the stored one to re-check provider rules", async () => {
    const { service, calls, decrypted } = setup();

    await service.update(WS, ID, { username: "robot2" });

    expect(calls).toEqual(["findForUse", "update"]);
    expect(decrypted).toEqual([stored.passwordCiphertext]);
  });

  it("verify without a password logs in with the stored one", async () => {
    const { service, calls, logins } = setup();

    await service.update(WS, ID, { enabled: true }, { verify: true });

    expect(calls).toEqual(["findForUse", "update"]);
    expect(logins).toEqual([{ username: "robot", password: "old-password" }]);
  });

  it.each([
    ["a deleted registry", { ...stored, deletedAt: FIXTURE_TIME, passwordCiphertext: null }],
    ["a missing registry", null],
  ])("%s answers not_found and writes nothing, with or without a password", async (_, row) => {
    for (const input of [{ password: "new-password" }, { name: "other" }, { username: "robot2" }]) {
      const { service, calls } = setup(row);
      await expect(service.update(WS, ID, input)).rejects.toMatchObject({ code: "not_found" });
      expect(calls).not.toContain("update");
    }
  });
});

describe("registry service: the active key's nonce budget", () => {
  it("a rotation the budget refuses writes nothing", async () => {
    const refusal = new Error("budget spent");
    const { service, calls } = setup(stored, refusal);

    await expect(service.update(WS, ID, { password: "new-password" })).rejects.toBe(refusal);
    expect(calls).toEqual(["findById", "budget"]);
  });

  it("a create the budget refuses inserts nothing", async () => {
    const refusal = new Error("budget spent");
    const { service, calls } = setup(stored, refusal);

    const input = { name: "new", server: "registry.example.com", username: "robot", password: "pw" };
    await expect(service.create(WS, input)).rejects.toBe(refusal);
    expect(calls).toEqual(["budget"]);
  });

  it("an update without a password spends none", async () => {
    const { service, calls } = setup();

    await service.update(WS, ID, { name: "renamed" });

    expect(calls).not.toContain("budget");
  });
});

describe("registry service: servers as written", () => {
  const input = { name: "new", server: "http://registry.example.com:5000", username: "robot", password: "pw" };

  it("refuses an http:// server whose host the operator did not list, before anything is sealed or sent", async () => {
    for (const insecureRegistries of [undefined, insecure("registry.example.com"), insecure("registry.example.com:5001")]) {
      const { service, calls, logins } = setup(stored, undefined, { ...(insecureRegistries && { insecureRegistries }) });
      await expect(service.create(WS, input, { verify: true })).rejects.toMatchObject({
        code: "validation_failed",
        fieldErrors: [{ path: "/body/server", message: expect.stringMatching(/HTTPS only.*MODBOX_INSECURE_REGISTRIES/) }],
      });
      await expect(service.update(WS, ID, { server: input.server })).rejects.toMatchObject({ code: "validation_failed" });
      expect(calls).not.toContain("budget");
      expect(logins).toEqual([]);
    }
  });

  it("stores a listed http:// server with its scheme, warns, and logs in over http", async () => {
    const { service, updates, endpoints } = setup(stored, undefined, { insecureRegistries: insecure("registry.example.com:5000") });
    const updated = await service.update(WS, ID, { server: "HTTP://Registry.Example.com:5000/v2/" }, { verify: true });
    expect(updated.server).toBe("http://registry.example.com:5000");
    expect(updates[0]?.warnings?.map((w) => [w.code, w.field])).toEqual([["insecure_registry", "server"]]);
    expect(endpoints).toEqual([{ host: "registry.example.com:5000", scheme: "http" }]);
  });

  it("drops the default port: registry.example.com:443 is registry.example.com, and changes nothing", async () => {
    const { service, updates, logins } = setup();
    const updated = await service.update(WS, ID, { server: "https://registry.example.com:443/" });
    expect(updated.server).toBe("registry.example.com");
    // The same server: the credential did not change, so the verification is kept and nothing decrypted.
    expect(updates[0]).not.toHaveProperty("verificationStatus");
    expect(logins).toEqual([]);
  });

  it("?verify=true stores the login's detail with its outcome, as POST /verify records it", async () => {
    const detail = "registry.example.com: the connection was refused";
    const { service, updates } = setup(stored, undefined, { outcome: { status: "failed", code: "registry_unreachable", detail } });
    const updated = await service.update(WS, ID, { password: "new-password" }, { verify: true });
    expect(updates[0]).toMatchObject({ verificationStatus: "failed", verificationErrorCode: "registry_unreachable", verificationDetail: detail });
    expect(updated).toMatchObject({ verificationStatus: "failed", verificationDetail: detail, verificationCheckedAt: NOW });
  });
});


const NEVER_VERIFIED = { verificationStatus: "unverified", verificationCheckedAt: null, verificationErrorCode: null, verificationDetail: null };

describe("registry service update: what counts as a new credential", () => {
  it("a rename keeps the verification and writes only the name", async () => {
    const { service, updates, decrypted } = setup();

    await service.update(WS, ID, { name: "renamed" });

    expect(updates).toStrictEqual([{ name: "renamed", updatedAt: NOW }]);
    expect(decrypted).toEqual([]);
  });

  it.each([
    ["the same username", { username: "robot" }],
    ["the same CA", { ca_certificate: CA_A }],
  ])("sending %s again changes nothing that was proven", async (_, input) => {
    const { service, updates, decrypted } = setup({ ...stored, caCertificate: CA_A });

    await service.update(WS, ID, input);

    expect(updates[0]).not.toHaveProperty("verificationStatus");
    expect(decrypted).toEqual([]);
  });

  it.each([
    ["another server", { server: "registry2.example.com" }, { server: "registry2.example.com" }],
    ["a new CA", { ca_certificate: CA_B }, { caCertificate: CA_B }],
    ["removing the CA", { ca_certificate: null }, { caCertificate: null }],
  ])("%s is a new credential: the old proof is dropped and the provider's rules are checked again", async (_, input, written) => {
    const { service, updates, decrypted } = setup({ ...stored, caCertificate: CA_A });

    await service.update(WS, ID, input);

    expect(updates).toStrictEqual([{ ...written, updatedAt: NOW, warnings: [], ...NEVER_VERIFIED }]);
    expect(decrypted).toEqual([stored.passwordCiphertext]);
  });

  it("refuses a CA that is not PEM before reading the registry", async () => {
    const { service, calls } = setup();

    await expect(service.update(WS, ID, { ca_certificate: "not a certificate" })).rejects.toMatchObject({
      code: "validation_failed",
      fieldErrors: [{ path: "/body/ca_certificate", message: expect.stringContaining("PEM certificate") }],
    });
    expect(calls).toEqual([]);
  });

  it("a live registry whose sealed credential is gone is not_found when the credential must be re-checked", async () => {
    const { service, decrypted } = setup({ ...stored, passwordCiphertext: null });

    await expect(service.update(WS, ID, { username: "robot2" })).rejects.toMatchObject({ code: "not_found", detail: "Registry not found." });
    expect(decrypted).toEqual([]);
  });
});

describe("registry service update with verify=true", () => {
  it("logs in trusting the stored CA when the update leaves it alone", async () => {
    const { service, endpoints } = setup({ ...stored, caCertificate: CA_A });

    await service.update(WS, ID, { name: "renamed" }, { verify: true });

    expect(endpoints).toEqual([{ host: "registry.example.com", scheme: "https", caCertPem: CA_A }]);
  });

  it("logs in trusting the new CA, and with none once it is removed", async () => {
    const replaced = setup({ ...stored, caCertificate: CA_A });
    const removed = setup({ ...stored, caCertificate: CA_A });

    await replaced.service.update(WS, ID, { ca_certificate: CA_B }, { verify: true });
    await removed.service.update(WS, ID, { ca_certificate: null }, { verify: true });

    expect(replaced.endpoints).toEqual([{ host: "registry.example.com", scheme: "https", caCertPem: CA_B }]);
    expect(removed.endpoints).toEqual([{ host: "registry.example.com", scheme: "https" }]);
  });

  it("refuses a disabled registry: nothing is sent or written", async () => {
    const { service, logins, calls } = setup({ ...stored, enabled: false });

    await expect(service.update(WS, ID, { name: "renamed" }, { verify: true })).rejects.toMatchObject({
      code: "registry_disabled",
      detail: "This registry is disabled; enable it before using it (verify=true contacts the registry).",
    });
    expect(logins).toEqual([]);
    expect(calls).not.toContain("update");
  });

  it("verifies a disabled registry that the same update enables", async () => {
    const { service, logins } = setup({ ...stored, enabled: false });

    await service.update(WS, ID, { enabled: true }, { verify: true });

    expect(logins).toEqual([{ username: "robot", password: "old-password" }]);
  });

  it("a disabled registry can still be edited without verify", async () => {
    const { service, logins } = setup({ ...stored, enabled: false });

    const updated = await service.update(WS, ID, { name: "renamed" });

    expect(updated.name).toBe("renamed");
    expect(logins).toEqual([]);
  });

  it("refuses credentials the registry refuses, and writes nothing", async () => {
    const { service, calls } = setup(stored, undefined, {
      outcome: { status: "failed", code: "invalid_credentials", detail: "401 from the registry" },
    });

    await expect(service.update(WS, ID, { password: "new-password" }, { verify: true })).rejects.toMatchObject({
      code: "invalid_credentials",
      detail: "The registry refused these credentials; nothing was saved.",
    });
    expect(calls).not.toContain("update");
  });
});

describe("registry service update: cloud registries", () => {
  const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
  const ROLE = JSON.stringify({ role_arn: "arn:aws:iam::123456789012:role/test-pull" });
  const TENANT = "11111111-2222-3333-4444-555555555555";
  const CLIENT = "66666666-7777-8888-9999-000000000000";
  const KEY = JSON.stringify({ type: "service_account", client_email: "puller@test.iam.gserviceaccount.com", private_key: "test PRIVATE KEY" });
  const cloud = (authType: RegistryForUse["authType"], server: string, username: string, secret: string): RegistryForUse => ({
    ...stored,
    authType,
    server,
    username,
    passwordCiphertext: `sealed:${WS}/${ID}:${secret}`,
  });
  const aws = cloud("aws_ecr", ECR, "AWS", ROLE);
  const gcp = cloud("gcp_service_account", "europe-docker.pkg.dev", "oauth2accesstoken", KEY);
  const azure = cloud("azure_service_principal", "contoso.azurecr.io", "00000000-0000-0000-0000-000000000000", "{}");

  it.each([
    ["aws_ecr", aws, "An aws_ecr registry's server must be an ECR registry host."],
    ["gcp_service_account", gcp, "A gcp_service_account registry's server must be a Google registry host."],
    ["azure_service_principal", azure, "An azure_service_principal registry's server must be an Azure Container Registry login server."],
  ])("an %s registry cannot move to another provider's host", async (_, row, detail) => {
    const { service, calls } = setup(row);

    await expect(service.update(WS, ID, { server: "registry.example.com" })).rejects.toMatchObject({ code: "validation_failed", detail });
    expect(calls).not.toContain("update");
  });

  it.each([
    ["aws_ecr", aws, "123456789012.dkr.ecr.us-east-1.amazonaws.com"],
    ["gcp_service_account", gcp, "us-docker.pkg.dev"],
    ["azure_service_principal", azure, "fabrikam.azurecr.io"],
  ])("an %s registry moves to another host of its provider without the basic provider warnings, or is renamed", async (_, row, server) => {
    const moved = setup(row);
    const renamed = setup(row);

    await moved.service.update(WS, ID, { server });
    const updated = await renamed.service.update(WS, ID, { name: "renamed" });

    expect(moved.updates).toStrictEqual([{ server, updatedAt: NOW, warnings: [], ...NEVER_VERIFIED }]);
    expect(updated).toMatchObject({ name: "renamed", server: row.server });
  });

  it("a new aws role replaces the sealed credential document", async () => {
    const { service, updates } = setup(aws);
    const arn = "arn:aws:iam::123456789012:role/test-other";

    await service.update(WS, ID, { aws_role_arn: arn });

    expect(updates[0]).toMatchObject({ passwordCiphertext: `sealed:${WS}/${ID}:${JSON.stringify({ role_arn: arn })}`, warnings: [] });
  });

  it("a new azure service principal replaces the sealed credential document", async () => {
    const { service, updates } = setup(azure);

    await service.update(WS, ID, { azure_tenant_id: TENANT, azure_client_id: CLIENT, azure_client_secret: "test-client-secret" });

    const document = JSON.stringify({ tenant_id: TENANT, client_id: CLIENT, client_secret: "test-client-secret" });
    expect(updates[0]).toMatchObject({ passwordCiphertext: `sealed:${WS}/${ID}:${document}`, warnings: [] });
  });
});

describe("registry service update: If-Match and concurrent writes", () => {
  it("refuses a registry at another version than If-Match names, naming its version", async () => {
    const { service, calls } = setup();

    await expect(service.update(WS, ID, { name: "renamed" }, { ifMatch: [2] })).rejects.toMatchObject({
      code: "precondition_failed",
      detail: "The registry changed since the version in If-Match (it is now at version 1); read it again, then retry.",
    });
    expect(calls).not.toContain("update");
  });

  it("after one lost race, reads and writes again and answers that write", async () => {
    const { service, calls } = setup(stored, undefined, { lostRaces: 1 });

    const updated = await service.update(WS, ID, { name: "renamed" });

    expect(updated).toMatchObject({ name: "renamed", version: 2 });
    expect(calls).toEqual(["findForUse", "update", "findForUse", "update"]);
  });

  it("after two lost races, checks and writes under the row's lock", async () => {
    const { service, calls, updates } = setup(stored, undefined, { lostRaces: 2 });

    const updated = await service.update(WS, ID, { name: "renamed" }, { ifMatch: [1] });

    expect(updated).toMatchObject({ name: "renamed", version: 2 });
    expect(calls).toEqual(["findForUse", "update", "findForUse", "update", "updateLocked"]);
    expect(updates[2]).toStrictEqual({ name: "renamed", updatedAt: NOW });
  });

  it("a registry deleted before its lock is taken is not_found", async () => {
    const { service } = setup(stored, undefined, { lostRaces: 2, lockedRowGone: true });

    await expect(service.update(WS, ID, { name: "renamed" })).rejects.toMatchObject({ code: "not_found", detail: "Registry not found." });
  });

  it("with verify, never logs in under a lock: a registry that keeps moving gives up with concurrent_modification", async () => {
    vi.useFakeTimers();
    try {
      const { service, calls } = setup(stored, undefined, { lostRaces: Infinity });

      const outcome = service.update(WS, ID, { name: "renamed" }, { verify: true }).catch((err: unknown) => err);
      await vi.runAllTimersAsync();

      expect(await outcome).toMatchObject({
        code: "concurrent_modification",
        detail: "The registry kept changing while this request was applied; read it again, then retry.",
      });
      expect(calls.filter((c) => c === "update")).toHaveLength(16);
      expect(calls).not.toContain("updateLocked");
    } finally {
      vi.useRealTimers();
    }
  });
});
