import { describe, expect, it } from "vitest";
import type { RegistryForUse, RegistryPatch, RegistryRecord } from "../db/records.js";
import { parseInsecureRegistries, type InsecureRegistries } from "../registry-protocol/insecure-registries.js";
import { createRegistryService, type RegistryRepositoryPort } from "./registries.js";
import type { LoginOutcome, RegistryEndpoint } from "./registry-prober.js";
import { FIXTURE_TIME } from "@modbox/testkit/fixtures";

const WS = "ws_test";
const ID = "0190a000-0000-7000-8000-000000000001";
const NOW = new Date("2025-02-01T00:00:00.000Z");

const stored: RegistryForUse = {
  id: ID,
  workspaceId: WS,
  name: "prod",
  server: "registry.example.com",
  provider: "self_hosted",
  username: "robot",
  email: null,
  enabled: true,
  authType: "basic",
  caCertificate: null,
  warnings: [],
  verificationStatus: "verified",
  verificationCheckedAt: FIXTURE_TIME,
  verificationErrorCode: null,
  verificationDetail: null,
  lastUsedAt: null,
  createdAt: FIXTURE_TIME,
  updatedAt: FIXTURE_TIME,
  version: 1,
  deletedAt: null,
  passwordCiphertext: `sealed:${WS}/${ID}:old-password`,
};

/**
 * A repository holding one registry that records which reads the service makes; the cipher
 * "seals" by prefixing and records decryptions, the prober records logins.
 */
function setup(
  row: RegistryForUse | null = stored,
  budgetRefusal?: Error,
  options: { insecureRegistries?: InsecureRegistries; outcome?: LoginOutcome } = {},
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
    updateLocked: unused("updateLocked"),
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
    expect(updates).toEqual([
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
