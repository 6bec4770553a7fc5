import { DecryptionError } from "@modbox/crypto";
import { rejectionOf } from "@modbox/testkit/rejections";
import { describe, expect, it } from "vitest";
import type { Principal } from "../auth/authenticator.js";
import { contractEnum } from "@modbox/testkit/contract";
import { PULL_CREDENTIAL_OUTCOMES } from "../db/pull-credential-outcomes.js";
import type { PullCredentialEvent, PullImage, PullRegistry, PullResolution } from "../db/repositories/pulls.js";
import { DomainError } from "../errors.js";
import type { RegistryAuth } from "./registry-auth.js";
import type { ManifestOutcome, RegistryCredentials, RegistryEndpoint } from "./registry-prober.js";
import { createPullService, type PullRepositoryPort } from "./pulls.js";

const WS = "ws_test";
const IMAGE_ID = "0190a000-0000-7000-8000-0000000000a1";
const REGISTRY_ID = "0190a000-0000-7000-8000-0000000000b1";
const NOW = new Date("2025-02-01T00:00:00.000Z");
const DIGEST = `sha256:${"a".repeat(64)}`;

const provisioner: Principal = { tokenId: "tok-prov", scope: "provisioner", workspaceIds: new Set([WS]) };

const privateImage: PullImage = {
  id: IMAGE_ID,
  workspaceId: WS,
  image: "registry.example.com/team/app",
  tag: "v1",
  registryId: REGISTRY_ID,
  enabled: true,
};

const liveRegistry: PullRegistry = {
  id: REGISTRY_ID,
  workspaceId: WS,
  name: "prod",
  server: "registry.example.com",
  username: "robot",
  email: null,
  enabled: true,
  authType: "basic",
  caCertificate: null,
  deletedAt: null,
  passwordCiphertext: `sealed:${WS}/${REGISTRY_ID}:s3cret`,
};

const linked: PullResolution = { image: privateImage, registry: liveRegistry };
const publicImage: PullResolution = {
  image: { ...privateImage, image: "docker.io/library/alpine", tag: "3.20", registryId: null },
  registry: null,
};

/**
 * Plain in-memory ports: the repository answers one resolution (or none) and keeps the audit
 * events; the cipher "seals" by prefixing with its context, so a ciphertext read for the wrong
 * registry fails like a real one; the prober answers one outcome and records what it was asked.
 */
function setup(
  resolution: PullResolution | null = linked,
  manifest: ManifestOutcome = { ok: true, digest: DIGEST, mediaType: "application/vnd.oci.image.manifest.v1+json" },
  options: {
    /** Thrown by the repository's read instead of answering. */
    resolveFault?: Error;
    /** Thrown by the cipher instead of decrypting (a fault of the cipher, not of the ciphertext). */
    cipherFault?: Error;
    registryAuth?: RegistryAuth;
  } = {},
) {
  const resolved: string[] = [];
  const events: PullCredentialEvent[] = [];
  /** Which audit write each event went through: only `issued` may mark a registry used. */
  const writes: ("refusal" | "issued")[] = [];
  const touches: { workspaceId: string; id: string; at: Date }[] = [];
  const decrypted: string[] = [];
  const probes: { endpoint: RegistryEndpoint; repository: string; reference: string; credentials: RegistryCredentials | null }[] = [];
  let ids = 0;

  const pulls: PullRepositoryPort = {
    async resolve(workspaceId, imageId) {
      resolved.push(`${workspaceId}/${imageId}`);
      if (options.resolveFault) throw options.resolveFault;
      return resolution && workspaceId === resolution.image.workspaceId && imageId === resolution.image.id ? resolution : null;
    },
    async recordRefusal(event) {
      writes.push("refusal");
      events.push(event);
    },
    async recordIssued(event) {
      writes.push("issued");
      events.push({ ...event, outcome: "issued" });
    },
  };
  const service = createPullService({
    pulls,
    registries: {
      async touchLastUsed(workspaceId, id, at) {
        touches.push({ workspaceId, id, at });
      },
    },
    cipher: {
      decrypt: (envelope, context) => {
        if (options.cipherFault) throw options.cipherFault;
        const prefix = `sealed:${context.workspace_id}/${context.registry_id}:`;
        if (!envelope.startsWith(prefix)) throw new DecryptionError("unknown_key");
        decrypted.push(envelope);
        return envelope.slice(prefix.length);
      },
    },
    prober: {
      async checkPull(endpoint, repository, reference, credentials) {
        probes.push({ endpoint, repository, reference, credentials });
        return manifest;
      },
    },
    registryAuth: options.registryAuth,
    newId: () => `event-${++ids}`,
    now: () => NOW,
  });
  return { service, resolved, events, writes, touches, decrypted, probes };
}

/** The refusal a rejected promise carries, for its code, status and extensions. */
const domainError = (promise: Promise<unknown>) => rejectionOf(promise, DomainError);

/** The stored states a pull refuses before anything is decrypted or any registry contacted. */
const refusedStates: { name: string; resolution: PullResolution; code: string; registryId: string | null }[] = [
  { name: "a disabled image", resolution: { ...linked, image: { ...privateImage, enabled: false } }, code: "image_disabled", registryId: REGISTRY_ID },
  { name: "a disabled registry", resolution: { ...linked, registry: { ...liveRegistry, enabled: false } }, code: "registry_disabled", registryId: REGISTRY_ID },
  {
    name: "a deleted registry (its tombstone)",
    resolution: { ...linked, registry: { ...liveRegistry, deletedAt: NOW, passwordCiphertext: null } },
    code: "registry_deleted",
    registryId: REGISTRY_ID,
  },
  { name: "a linked registry that is gone", resolution: { ...linked, registry: null }, code: "registry_deleted", registryId: REGISTRY_ID },
  {
    name: "a registry for another host",
    resolution: { ...linked, image: { ...privateImage, image: "ghcr.io/team/app" } },
    code: "registry_host_mismatch",
    registryId: REGISTRY_ID,
  },
  {
    name: "a registry whose repository prefix does not cover the image (its server changed after the link)",
    resolution: { ...linked, registry: { ...liveRegistry, server: "registry.example.com/other" } },
    code: "registry_host_mismatch",
    registryId: REGISTRY_ID,
  },
];

/** A registry with a repository prefix and an image under it. */
const prefixed: PullResolution = { image: privateImage, registry: { ...liveRegistry, server: "registry.example.com/team" } };

/** A plain-HTTP registry (the operator listed it) and an image on it. */
const plainHttp: PullResolution = {
  image: { ...privateImage, image: "registry.example.com:5000/team/app" },
  registry: { ...liveRegistry, server: "http://registry.example.com:5000" },
};

describe("pull credentials", () => {
  it("says a plain-HTTP registry is insecure, and keys its credential by the bare host[:port]", async () => {
    const { service } = setup(plainHttp);
    const credentials = await service.credentials(provisioner, WS, IMAGE_ID);
    expect(credentials.reference).toBe("registry.example.com:5000/team/app:v1");
    expect(credentials.registry).toEqual({ id: REGISTRY_ID, name: "prod", server: "http://registry.example.com:5000", insecure: true });
    expect(credentials.auth?.server).toBe("registry.example.com:5000");
    expect(Object.keys(credentials.auth?.docker_config.auths ?? {})).toEqual(["registry.example.com:5000"]);
  });

  it("a registry with a repository prefix: config.json and X-Registry-Auth keyed by host, the Kubernetes secret by host/path", async () => {
    const { service } = setup(prefixed);
    const credentials = await service.credentials(provisioner, WS, IMAGE_ID);
    expect(credentials.registry).toMatchObject({ server: "registry.example.com/team", insecure: false });
    expect(credentials.auth?.server).toBe("registry.example.com");
    expect(Object.keys(credentials.auth?.docker_config.auths ?? {})).toEqual(["registry.example.com"]);
    const secret = JSON.parse(Buffer.from(credentials.auth!.kubernetes_secret.data[".dockerconfigjson"], "base64").toString("utf8"));
    expect(Object.keys(secret.auths)).toEqual(["registry.example.com/team"]);
  });

  it("serves an image that spells the default port from a registry that does not, keyed as the image spells it", async () => {
    const { service } = setup({ ...linked, image: { ...privateImage, image: "registry.example.com:443/team/app" } });
    const credentials = await service.credentials(provisioner, WS, IMAGE_ID);
    // What the runtime pulls is the reference as written; it looks the credential up by its host.
    expect(credentials.reference).toBe("registry.example.com:443/team/app:v1");
    expect(credentials.registry).toMatchObject({ server: "registry.example.com", insecure: false });
    expect(Object.keys(credentials.auth?.docker_config.auths ?? {})).toEqual(["registry.example.com:443"]);
  });


  it("hands out the decrypted credential and audits `issued` in the write that marks the registry used", async () => {
    const { service, events, writes, touches, decrypted } = setup();

    const credentials = await service.credentials(provisioner, WS, IMAGE_ID);

    expect(credentials.reference).toBe("registry.example.com/team/app:v1");
    expect(credentials.registry).toEqual({ id: REGISTRY_ID, name: "prod", server: "registry.example.com", insecure: false });
    expect(credentials.auth?.server).toBe("registry.example.com");
    expect(JSON.stringify(credentials.auth?.docker_config)).toContain(Buffer.from("robot:s3cret").toString("base64"));
    expect(decrypted).toEqual([liveRegistry.passwordCiphertext]);
    expect(events).toEqual([
      { id: "event-1", workspaceId: WS, imageId: IMAGE_ID, registryId: REGISTRY_ID, tokenId: "tok-prov", outcome: "issued", createdAt: NOW },
    ]);
    // The registry is marked used by the audit write itself, not by a second one.
    expect(writes).toEqual(["issued"]);
    expect(touches).toEqual([]);
  });

  it("a public image is issued with no credential, decrypting nothing", async () => {
    const { service, events, decrypted } = setup(publicImage);

    expect(await service.credentials(provisioner, WS, IMAGE_ID)).toEqual({
      imageId: IMAGE_ID,
      reference: "docker.io/library/alpine:3.20",
      registry: null,
      auth: null,
      expiresAt: null,
    });
    expect(decrypted).toEqual([]);
    expect(events.map((e) => [e.outcome, e.registryId])).toEqual([["issued", null]]);
  });

  it("a missing image is 404 not_found, audited with no registry", async () => {
    const { service, events } = setup(null);

    const err = await domainError(service.credentials(provisioner, WS, IMAGE_ID));

    expect(err.code).toBe("not_found");
    expect(events).toEqual([
      { id: "event-1", workspaceId: WS, imageId: IMAGE_ID, registryId: null, tokenId: "tok-prov", outcome: "not_found", createdAt: NOW },
    ]);
  });

  for (const state of refusedStates) {
    it(`${state.name} is a 409 ${state.code}, audited, and nothing is decrypted`, async () => {
      const { service, events, writes, decrypted } = setup(state.resolution);

      const err = await domainError(service.credentials(provisioner, WS, IMAGE_ID));

      expect([err.code, err.status]).toEqual([state.code, 409]);
      expect(decrypted).toEqual([]);
      expect(events.map((e) => [e.outcome, e.registryId])).toEqual([[state.code, state.registryId]]);
      expect(writes).toEqual(["refusal"]);
    });
  }

  it("a host mismatch names both hosts in the problem", async () => {
    const { service } = setup({ ...linked, image: { ...privateImage, image: "ghcr.io/team/app" } });

    const err = await domainError(service.credentials(provisioner, WS, IMAGE_ID));

    expect(err.extensions).toEqual({ image_host: "ghcr.io", registry_server: "registry.example.com" });
  });

  it("an undecryptable credential rethrows the DecryptionError (500) and is audited", async () => {
    const sealedElsewhere = { ...liveRegistry, passwordCiphertext: `sealed:other/${REGISTRY_ID}:s3cret` };
    for (const registry of [sealedElsewhere, { ...liveRegistry, passwordCiphertext: null }]) {
      const { service, events, writes } = setup({ ...linked, registry });

      await expect(service.credentials(provisioner, WS, IMAGE_ID)).rejects.toBeInstanceOf(DecryptionError);

      expect(events.map((e) => [e.outcome, e.registryId])).toEqual([["credential_undecryptable", REGISTRY_ID]]);
      expect(writes).toEqual(["refusal"]);
    }
  });

  describe("authorisation: decided and audited before the image is read", () => {
    const denied: { name: string; principal: Principal; code: string; status: number }[] = [
      { name: "a workspace token", principal: { tokenId: "tok-ws", scope: "workspace", workspaceIds: new Set([WS]) }, code: "insufficient_scope", status: 403 },
      { name: "the bootstrap token (a workspace token)", principal: { tokenId: "bootstrap", scope: "workspace", workspaceIds: null }, code: "insufficient_scope", status: 403 },
      { name: "a provisioner of another workspace", principal: { tokenId: "tok-other", scope: "provisioner", workspaceIds: new Set(["ws_other"]) }, code: "workspace_forbidden", status: 403 },
    ];
    for (const { name, principal, code } of denied) {
      it(`${name} is refused with ${code}, audited under its token`, async () => {
        const { service, resolved, events, decrypted } = setup();

        const err = await domainError(service.credentials(principal, WS, IMAGE_ID));

        expect(err.code).toBe(code);
        expect(resolved).toEqual([]);
        expect(decrypted).toEqual([]);
        expect(events).toEqual([
          { id: "event-1", workspaceId: WS, imageId: IMAGE_ID, registryId: null, tokenId: principal.tokenId, outcome: code, createdAt: NOW },
        ]);
      });
    }

    it("a provisioner granted every workspace may pull", async () => {
      const { service, events } = setup();
      await service.credentials({ tokenId: "tok-all", scope: "provisioner", workspaceIds: null }, WS, IMAGE_ID);
      expect(events.map((e) => e.outcome)).toEqual(["issued"]);
    });
  });

  it("audits exactly the outcomes of the stored outcome list, each reachable", async () => {
    const seen = new Set<string>();
    const run = async (resolution: PullResolution | null, principal: Principal = provisioner) => {
      const { service, events } = setup(resolution);
      await service.credentials(principal, WS, IMAGE_ID).catch(() => undefined);
      for (const event of events) seen.add(event.outcome);
    };
    await run(linked);
    await run(null);
    for (const state of refusedStates) await run(state.resolution);
    await run({ ...linked, registry: { ...liveRegistry, passwordCiphertext: null } });
    await run({ ...linked, registry: { ...liveRegistry, authType: "aws_ecr" } });
    await run(linked, { tokenId: "t", scope: "workspace", workspaceIds: null });
    await run(linked, { tokenId: "t", scope: "provisioner", workspaceIds: new Set() });

    expect([...seen].sort()).toEqual([...PULL_CREDENTIAL_OUTCOMES].sort());
  });
});

describe("pull check", () => {
  it("asks the registry with the decrypted credential, and marks the registry used", async () => {
    const { service, probes, touches } = setup(
      { ...linked, registry: { ...liveRegistry, caCertificate: "-----BEGIN CERTIFICATE-----\n…" } },
    );

    expect(await service.check(WS, IMAGE_ID)).toEqual({
      imageId: IMAGE_ID,
      reference: "registry.example.com/team/app:v1",
      pullable: true,
      digest: DIGEST,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      errorCode: null,
      detail: null,
      checkedAt: NOW,
    });
    expect(probes).toEqual([
      {
        endpoint: { host: "registry.example.com", scheme: "https", caCertPem: "-----BEGIN CERTIFICATE-----\n…" },
        repository: "team/app",
        reference: "v1",
        credentials: { username: "robot", password: "s3cret" },
      },
    ]);
    expect(touches).toEqual([{ workspaceId: WS, id: REGISTRY_ID, at: NOW }]);
  });

  it("checks a registry with a repository prefix on its host, for the image's whole repository", async () => {
    const { service, probes } = setup(prefixed);
    expect((await service.check(WS, IMAGE_ID)).pullable).toBe(true);
    expect(probes.map((p) => [p.endpoint, p.repository, p.reference])).toEqual([[{ host: "registry.example.com", scheme: "https" }, "team/app", "v1"]]);
  });

  it("checks a plain-HTTP registry over http, on its bare host[:port]", async () => {
    const { service, probes } = setup(plainHttp);
    expect((await service.check(WS, IMAGE_ID)).pullable).toBe(true);
    expect(probes.map((p) => p.endpoint)).toEqual([{ host: "registry.example.com:5000", scheme: "http" }]);
  });

  it("checks a public image anonymously on its own host, marking nothing used", async () => {
    const { service, probes, touches, decrypted } = setup(publicImage);

    expect((await service.check(WS, IMAGE_ID)).pullable).toBe(true);

    expect(probes.map((p) => [p.endpoint.host, p.repository, p.reference, p.credentials])).toEqual([
      ["registry-1.docker.io", "library/alpine", "3.20", null],
    ]);
    expect(decrypted).toEqual([]);
    expect(touches).toEqual([]);
  });

  it("answers the registry's refusal as a result, and still marks the registry used", async () => {
    const { service, touches } = setup(linked, { ok: false, code: "registry_auth_failed", detail: "pulling was refused (401)" });

    expect(await service.check(WS, IMAGE_ID)).toMatchObject({
      pullable: false,
      digest: null,
      errorCode: "registry_auth_failed",
      detail: "pulling was refused (401)",
    });
    expect(touches).toHaveLength(1);
  });

  it("a missing image is 404 not_found (and a check audits nothing)", async () => {
    const { service, events } = setup(null);
    expect((await domainError(service.check(WS, IMAGE_ID))).code).toBe("not_found");
    expect(events).toEqual([]);
  });

  for (const state of refusedStates) {
    it(`${state.name} answers ${state.code} without decrypting or contacting anything`, async () => {
      const { service, probes, decrypted, touches, events } = setup(state.resolution);

      expect(await service.check(WS, IMAGE_ID)).toMatchObject({ pullable: false, errorCode: state.code, detail: expect.any(String) });
      expect(probes).toEqual([]);
      expect(decrypted).toEqual([]);
      expect(touches).toEqual([]);
      expect(events).toEqual([]);
    });
  }

  it("an undecryptable credential answers credential_undecryptable without contacting the registry", async () => {
    const { service, probes, touches } = setup({ ...linked, registry: { ...liveRegistry, passwordCiphertext: "sealed:other:x" } });

    expect(await service.check(WS, IMAGE_ID)).toMatchObject({ pullable: false, errorCode: "credential_undecryptable" });
    expect(probes).toEqual([]);
    expect(touches).toEqual([]);
  });

  it("answers exactly the contract's error codes: its own refusals, and the registry's passed through", async () => {
    const contract = contractEnum("PullCheck", "error_code");
    expect(contract).toContain(null);
    const codes = contract.filter((code): code is string => code !== null);
    const own = new Set<string>();
    for (const state of refusedStates) own.add((await setup(state.resolution).service.check(WS, IMAGE_ID)).errorCode!);
    own.add((await setup({ ...linked, registry: { ...liveRegistry, passwordCiphertext: null } }).service.check(WS, IMAGE_ID)).errorCode!);
    // A cloud credential this service cannot exchange (no exchanger configured): exchange_failed.
    own.add((await setup({ ...linked, registry: { ...liveRegistry, authType: "aws_ecr" } }).service.check(WS, IMAGE_ID)).errorCode!);
    expect([...own].every((code) => codes.includes(code))).toBe(true);

    // Every other code of the contract is the registry client's, answered unchanged.
    for (const code of codes.filter((c) => !own.has(c))) {
      const manifest = { ok: false, code, detail: "from the registry" } as ManifestOutcome;
      expect((await setup(linked, manifest).service.check(WS, IMAGE_ID)).errorCode).toBe(code);
    }
    expect(codes.filter((c) => !own.has(c)).sort()).toEqual(
      ["address_not_allowed", "image_not_found", "insecure_realm", "registry_auth_failed", "registry_error", "registry_unreachable", "tls_error", "unsupported_auth"],
    );
  });
});

/** A cloud credential exchange that the provider refuses, with its reason. */
const refusingExchange: RegistryAuth = { derive: async () => ({ ok: false, reason: "the provider refused the key" }) };
const EXCHANGE_FAILED = "The registry's stored credential could not be exchanged for a token: the provider refused the key";

describe("pull refusals: what they say", () => {
  const details: { name: string; resolution: PullResolution; code: string; detail: string }[] = [
    { name: "a disabled image", resolution: refusedStates[0]!.resolution, code: "image_disabled", detail: "This sandbox image is disabled." },
    {
      name: "a disabled registry",
      resolution: refusedStates[1]!.resolution,
      code: "registry_disabled",
      detail: "The registry linked to this image is disabled; enable it or link another registry.",
    },
    {
      name: "a deleted registry",
      resolution: refusedStates[2]!.resolution,
      code: "registry_deleted",
      detail: "The registry linked to this image was deleted; link another registry.",
    },
  ];
  for (const { name, resolution, code, detail } of details) {
    it(`${name}: the check and the credentials say what to do about it`, async () => {
      const { service } = setup(resolution);

      expect(await service.check(WS, IMAGE_ID)).toMatchObject({ errorCode: code, detail });
      const err = await domainError(service.credentials(provisioner, WS, IMAGE_ID));
      expect([err.code, err.detail]).toEqual([code, detail]);
    });
  }

  it("a missing image: \"Sandbox image not found.\"", async () => {
    const err = await domainError(setup(null).service.credentials(provisioner, WS, IMAGE_ID));

    expect([err.code, err.detail]).toEqual(["not_found", "Sandbox image not found."]);
  });

  it("an undecryptable credential: the check says the configured keys cannot open it", async () => {
    const { service } = setup({ ...linked, registry: { ...liveRegistry, passwordCiphertext: "sealed:other:x" } });

    expect(await service.check(WS, IMAGE_ID)).toMatchObject({
      errorCode: "credential_undecryptable",
      detail: "The stored credential cannot be decrypted with the configured keys.",
    });
  });

  it("a registry with no stored password fails as a malformed ciphertext", async () => {
    const { service } = setup({ ...linked, registry: { ...liveRegistry, passwordCiphertext: null } });

    const err = await rejectionOf(service.credentials(provisioner, WS, IMAGE_ID), DecryptionError);

    expect(err.reason).toBe("malformed");
  });
});

describe("cloud credential exchange refused", () => {
  it("the check answers exchange_failed with the provider's reason, without contacting the registry", async () => {
    const { service, probes } = setup(linked, undefined, { registryAuth: refusingExchange });

    expect(await service.check(WS, IMAGE_ID)).toMatchObject({ pullable: false, errorCode: "exchange_failed", detail: EXCHANGE_FAILED });
    expect(probes).toEqual([]);
  });

  it("pull credentials are refused with exchange_failed and the provider's reason, audited", async () => {
    const { service, events } = setup(linked, undefined, { registryAuth: refusingExchange });

    const err = await domainError(service.credentials(provisioner, WS, IMAGE_ID));

    expect([err.code, err.detail]).toEqual(["exchange_failed", EXCHANGE_FAILED]);
    expect(events.map((e) => [e.outcome, e.registryId])).toEqual([["exchange_failed", REGISTRY_ID]]);
  });
});

describe("pull failures that are not refusals", () => {
  it("a stored reference that no longer parses is an internal error, not audited as a missing image", async () => {
    const { service, events } = setup({ ...linked, image: { ...privateImage, image: "Upper/Case" } });

    await expect(service.check(WS, IMAGE_ID)).rejects.toThrow(new Error("stored sandbox image has an unparseable reference"));
    await expect(service.credentials(provisioner, WS, IMAGE_ID)).rejects.toThrow(new Error("stored sandbox image has an unparseable reference"));
    expect(events).toEqual([]);
  });

  it("only a missing image is audited as not_found: another refusal while reading is passed through unaudited", async () => {
    const unavailable = new DomainError("service_unavailable", "The database is unavailable; retry shortly.");
    const { service, events } = setup(linked, undefined, { resolveFault: unavailable });

    await expect(service.credentials(provisioner, WS, IMAGE_ID)).rejects.toBe(unavailable);
    expect(events).toEqual([]);
  });

  it("a fault of the cipher itself is passed through, neither answered nor audited as an undecryptable credential", async () => {
    const fault = new TypeError("cipher is not initialised");
    const { service, events, probes } = setup(linked, undefined, { cipherFault: fault });

    await expect(service.check(WS, IMAGE_ID)).rejects.toBe(fault);
    await expect(service.credentials(provisioner, WS, IMAGE_ID)).rejects.toBe(fault);
    expect(events).toEqual([]);
    expect(probes).toEqual([]);
  });
});

describe("pull credentials: the Kubernetes secret", () => {
  it("is named after the image", async () => {
    const credentials = await setup().service.credentials(provisioner, WS, IMAGE_ID);

    expect(credentials.auth?.kubernetes_secret.metadata).toEqual({ name: `modbox-pull-${IMAGE_ID}` });
  });
});
