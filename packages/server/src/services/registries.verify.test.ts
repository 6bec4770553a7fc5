import { describe, expect, it } from "vitest";
import type { RegistryForUse, VerificationState } from "../db/records.js";
import { createRegistryService, type RegistryRepositoryPort } from "./registries.js";
import type { LoginOutcome, RegistryCredentials, RegistryEndpoint } from "./registry-prober.js";
import { FIXTURE_TIME, registryForUse } from "@modbox/testkit/fixtures";

const WS = "ws_test";
const ID = "0190a000-0000-7000-8000-000000000001";
const NOW = new Date("2025-02-01T00:00:00.000Z");
const CA = "-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n";

/** The fake cipher's envelope: the key, the row it is bound to, and the plaintext in the clear. */
const sealed = (password: string, keyId = "k1") => `${keyId}|${WS}/${ID}|${password}`;

const registry = registryForUse({ caCertificate: CA, passwordCiphertext: sealed("test-password") });

const VERIFIED: VerificationState = { verificationStatus: "verified", verificationCheckedAt: NOW, verificationErrorCode: null, verificationDetail: null };

/** Never reached by a correct service; bounds a loop that would otherwise run forever. */
const MAX_CALLS = 40;

/**
 * `reads` are what successive reads of the registry answer (the last one repeats); a recorded
 * verification is accepted from the `acceptFrom`-th attempt on (1-based; Infinity: never). The
 * prober answers `outcomes` in turn (then the last one).
 */
function setup(options: { reads?: (RegistryForUse | null)[]; acceptFrom?: number; outcomes?: LoginOutcome[] } = {}) {
  const reads = options.reads ?? [registry];
  const outcomes = options.outcomes ?? [{ status: "verified" }];
  const acceptFrom = options.acceptFrom ?? 1;
  const logins: { endpoint: RegistryEndpoint; credentials: RegistryCredentials }[] = [];
  const recorded: { workspaceId: string; id: string; checked: RegistryForUse; state: VerificationState }[] = [];
  let readCount = 0;
  const unused = (name: string) => () => Promise.reject(new Error(`${name} is not used here`));
  const registries: RegistryRepositoryPort = {
    async findForUse(workspaceId, id) {
      if (++readCount > MAX_CALLS) throw new Error("findForUse called too often");
      const row = reads[Math.min(readCount, reads.length) - 1] ?? null;
      return row && row.workspaceId === workspaceId && row.id === id ? row : null;
    },
    async recordVerification(workspaceId, id, checked, state) {
      recorded.push({ workspaceId, id, checked: checked as RegistryForUse, state });
      if (recorded.length < acceptFrom) return null;
      const { deletedAt: _d, passwordCiphertext: _c, ...record } = checked as RegistryForUse;
      return { ...record, ...state };
    },
    softDeleteUnlessLinked: unused("softDeleteUnlessLinked"),
    insert: unused("insert"),
    insertClaimingKey: unused("insertClaimingKey"),
    findById: unused("findById"),
    list: unused("list"),
    update: unused("update"),
    updateLocked: unused("updateLocked"),
  };
  const service = createRegistryService({
    registries,
    cipher: {
      encrypt: () => {
        throw new Error("verify seals nothing");
      },
      decrypt: (envelope, context) => {
        const [, boundTo, plaintext] = envelope.split("|");
        if (boundTo !== `${context.workspace_id}/${context.registry_id}`) throw new Error("wrong context");
        return plaintext!;
      },
      keyIdOf: (envelope) => envelope.split("|")[0]!,
    },
    budget: { take: () => Promise.reject(new Error("verify seals nothing")) },
    prober: {
      async verifyLogin(endpoint, credentials) {
        logins.push({ endpoint, credentials: { username: credentials.username, password: credentials.password } });
        return outcomes[Math.min(logins.length, outcomes.length) - 1]!;
      },
    },
    newId: () => ID,
    now: () => NOW,
  });
  return { service, logins, recorded };
}

describe("registry service verify", () => {
  it("logs in with the stored credential, trusting the registry's CA, and records the outcome against the credential it checked", async () => {
    const { service, logins, recorded } = setup();

    const result = await service.verify(WS, ID);

    expect(result).toStrictEqual(VERIFIED);
    expect(logins).toEqual([
      { endpoint: { host: "registry.example.com", scheme: "https", caCertPem: CA }, credentials: { username: "robot", password: "test-password" } },
    ]);
    expect(recorded).toEqual([{ workspaceId: WS, id: ID, checked: registry, state: VERIFIED }]);
  });

  it("a registry without a CA is spoken to with the bundled roots only", async () => {
    const { service, logins } = setup({ reads: [{ ...registry, caCertificate: null }] });

    await service.verify(WS, ID);

    expect(logins.map((l) => l.endpoint)).toEqual([{ host: "registry.example.com", scheme: "https" }]);
  });

  it("a registry that allows anonymous access is unverified, with the reason and why it cannot be proven", async () => {
    const { service } = setup({ outcomes: [{ status: "unverified", reason: "anonymous_registry" }] });

    expect(await service.verify(WS, ID)).toStrictEqual({
      verificationStatus: "unverified",
      verificationCheckedAt: NOW,
      verificationErrorCode: "anonymous_registry",
      verificationDetail: "The registry allows anonymous access, so these credentials cannot be proven.",
    });
  });

  it("a refused login is a failed verification with the registry's code and detail, not an error", async () => {
    const { service } = setup({ outcomes: [{ status: "failed", code: "invalid_credentials", detail: "401 from the registry" }] });

    expect(await service.verify(WS, ID)).toStrictEqual({
      verificationStatus: "failed",
      verificationCheckedAt: NOW,
      verificationErrorCode: "invalid_credentials",
      verificationDetail: "401 from the registry",
    });
  });

  it.each([
    ["a missing registry", null],
    ["a deleted registry", { ...registry, deletedAt: FIXTURE_TIME, passwordCiphertext: null }],
    ["a live registry whose credential is gone", { ...registry, passwordCiphertext: null }],
  ])("%s is not_found, and nothing is sent", async (_, row) => {
    const { service, logins, recorded } = setup({ reads: [row] });

    await expect(service.verify(WS, ID)).rejects.toMatchObject({ code: "not_found", detail: "Registry not found." });
    expect(logins).toEqual([]);
    expect(recorded).toEqual([]);
  });

  it("a disabled registry is never used", async () => {
    const { service, logins } = setup({ reads: [{ ...registry, enabled: false }] });

    await expect(service.verify(WS, ID)).rejects.toMatchObject({
      code: "registry_disabled",
      detail: "This registry is disabled; enable it before using it (verify=true contacts the registry).",
    });
    expect(logins).toEqual([]);
  });

  it("a key rotation's re-seal during the login is the same credential: its outcome is recorded without a second login", async () => {
    const resealed = { ...registry, passwordCiphertext: sealed("test-password", "k2") };
    const { service, logins, recorded } = setup({ reads: [registry, resealed], acceptFrom: 2 });

    expect(await service.verify(WS, ID)).toStrictEqual(VERIFIED);
    expect(logins).toHaveLength(1);
    expect(recorded.map((r) => r.checked)).toEqual([registry, resealed]);
  });

  it.each([
    ["server", { server: "registry2.example.com" }],
    ["username", { username: "robot2" }],
    ["CA", { caCertificate: null }],
    ["password", { passwordCiphertext: sealed("test-password-2") }],
  ])("a credential whose %s changed during the login is logged in with again, and that outcome is the one recorded", async (_, change) => {
    const replaced = { ...registry, ...change };
    const refused: LoginOutcome = { status: "failed", code: "invalid_credentials", detail: "401 from the registry" };
    const { service, logins, recorded } = setup({ reads: [registry, replaced], acceptFrom: 2, outcomes: [{ status: "verified" }, refused] });

    const result = await service.verify(WS, ID);

    expect(logins).toHaveLength(2);
    expect(result).toMatchObject({ verificationStatus: "failed", verificationErrorCode: "invalid_credentials" });
    expect(recorded[1]).toEqual({ workspaceId: WS, id: ID, checked: replaced, state: result });
  });

  it("a registry whose credential keeps changing gives up after 16 attempts with concurrent_modification", async () => {
    const { service, recorded } = setup({ acceptFrom: Infinity });

    await expect(service.verify(WS, ID)).rejects.toMatchObject({
      code: "concurrent_modification",
      detail: "The registry kept changing while this request was applied; read it again, then retry.",
    });
    expect(recorded).toHaveLength(16);
  });
});

describe("registry service delete", () => {
  type DeleteOptions = Parameters<RegistryRepositoryPort["softDeleteUnlessLinked"]>[3];
  type DeleteOutcome = Awaited<ReturnType<RegistryRepositoryPort["softDeleteUnlessLinked"]>>;

  function deleting(outcome: DeleteOutcome) {
    const calls: { workspaceId: string; id: string; at: Date; options: DeleteOptions }[] = [];
    const unused = (name: string) => () => Promise.reject(new Error(`${name} is not used here`));
    const service = createRegistryService({
      registries: {
        async softDeleteUnlessLinked(workspaceId, id, at, options) {
          calls.push({ workspaceId, id, at, options });
          return outcome;
        },
        insert: unused("insert"),
        insertClaimingKey: unused("insertClaimingKey"),
        findById: unused("findById"),
        findForUse: unused("findForUse"),
        list: unused("list"),
        update: unused("update"),
        updateLocked: unused("updateLocked"),
        recordVerification: unused("recordVerification"),
      },
      cipher: { encrypt: () => "", decrypt: () => "", keyIdOf: () => "" },
      budget: { take: () => Promise.reject(new Error("delete seals nothing")) },
      prober: { verifyLogin: () => Promise.reject(new Error("delete logs in nowhere")) },
      newId: () => ID,
      now: () => NOW,
    });
    return { service, calls };
  }

  it("deletes a registry no image uses, at the current time, listing at most 100 of the images that would block it", async () => {
    const { service, calls } = deleting({ outcome: "deleted" });

    await expect(service.delete(WS, ID)).resolves.toBeUndefined();
    expect(calls).toStrictEqual([{ workspaceId: WS, id: ID, at: NOW, options: { force: false, listLimit: 100 } }]);
  });

  it("force=true asks the repository to delete even a registry in use", async () => {
    const { service, calls } = deleting({ outcome: "deleted" });

    await service.delete(WS, ID, { force: true });

    expect(calls[0]?.options).toStrictEqual({ force: true, listLimit: 100 });
  });

  it("If-Match makes the delete conditional on one of the versions named", async () => {
    const { service, calls } = deleting({ outcome: "deleted" });

    await service.delete(WS, ID, { ifMatch: [2, 4] });
    await service.delete(WS, ID, { ifMatch: "any" });

    const [named, any] = calls.map((c) => c.options.ifVersion!);
    expect([named!(2), named!(3), named!(4)]).toEqual([true, false, true]);
    expect(any!(7)).toBe(true);
  });

  it("a registry that is not there is not_found", async () => {
    const { service } = deleting({ outcome: "not_found" });

    await expect(service.delete(WS, ID)).rejects.toMatchObject({ code: "not_found", detail: "Registry not found." });
  });

  it("a registry at another version than If-Match names is precondition_failed, naming its version", async () => {
    const { service } = deleting({ outcome: "version_mismatch", version: 3 });

    await expect(service.delete(WS, ID, { ifMatch: [2] })).rejects.toMatchObject({
      code: "precondition_failed",
      detail: "The registry changed since the version in If-Match (it is now at version 3); read it again, then retry.",
    });
  });

  it("a registry images still use is kept, and the answer lists them", async () => {
    const ids = ["0190a000-0000-7000-8000-0000000000a1", "0190a000-0000-7000-8000-0000000000a2"];
    const { service } = deleting({ outcome: "in_use", ids, count: 2 });

    await expect(service.delete(WS, ID)).rejects.toMatchObject({
      code: "registry_in_use",
      detail: "2 sandbox image(s) still use this registry; link them to another registry first, or delete with force=true.",
      extensions: { linked_image_ids: ids, linked_image_count: 2 },
    });
  });
});
