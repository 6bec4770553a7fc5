import { describe, expect, it } from "vitest";
import { createExchangeCache, type ExchangedToken } from "../cloud/exchange-cache.js";
import { ExchangeError, type CredentialExchanger } from "../cloud/exchanger.js";
import { createRegistryAuth, type RegistryToAuthenticate } from "./registry-auth.js";

const NOW = new Date("2025-02-01T00:00:00.000Z");
const TOKEN: ExchangedToken = { username: "AWS", password: "test-token", expiresAt: new Date("2025-02-01T12:00:00.000Z") };

const ecr: RegistryToAuthenticate = {
  id: "0190a000-0000-7000-8000-000000000001",
  workspaceId: "ws_test",
  authType: "aws_ecr",
  server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
  username: "AWS",
};

type ExchangeRequest = Parameters<CredentialExchanger["exchange"]>[0];

/** An ECR exchanger that records what it is asked and answers `answer` (a token, or throws). */
function setup(answer: (request: ExchangeRequest) => ExchangedToken = () => TOKEN) {
  const requests: ExchangeRequest[] = [];
  const exchanger: CredentialExchanger = {
    async exchange(request) {
      requests.push(request);
      return answer(request);
    },
  };
  const auth = createRegistryAuth({ exchangers: { aws_ecr: exchanger }, cache: createExchangeCache({ now: () => NOW }) });
  return { auth, requests };
}

describe("registry auth: the credential a registry is spoken to with", () => {
  it("a basic registry logs in with its stored username and password, which do not expire", async () => {
    const { auth, requests } = setup();

    const derived = await auth.derive({ ...ecr, authType: "basic", server: "registry.example.com", username: "robot" }, "test-password");

    expect(derived).toEqual({ ok: true, credential: { username: "robot", password: "test-password", expiresAt: null } });
    expect(requests).toEqual([]);
  });

  it("a cloud registry logs in with the token its stored credential is exchanged for, never with the credential", async () => {
    const { auth, requests } = setup();

    const derived = await auth.derive(ecr, "test-credential-document");

    expect(derived).toEqual({ ok: true, credential: { username: "AWS", password: "test-token", expiresAt: TOKEN.expiresAt } });
    expect(requests).toEqual([
      { workspaceId: "ws_test", registryId: ecr.id, server: ecr.server, secret: "test-credential-document" },
    ]);
  });

  it("a cloud type this server has no exchanger for cannot be used, and says which type", async () => {
    const { auth, requests } = setup();

    const derived = await auth.derive({ ...ecr, authType: "gcp_service_account", server: "europe-docker.pkg.dev" }, "test-key");

    expect(derived).toEqual({ ok: false, reason: "this server cannot exchange gcp_service_account credentials" });
    expect(requests).toEqual([]);
  });

  it("the same credential at the same server is exchanged once, then answered from the cache", async () => {
    const { auth, requests } = setup();

    await auth.derive(ecr, "test-credential-document");
    const again = await auth.derive(ecr, "test-credential-document");

    expect(again).toEqual({ ok: true, credential: { ...TOKEN } });
    expect(requests).toHaveLength(1);
  });

  it.each([
    ["a rotated credential", ecr, "test-rotated-document"],
    ["another server", { ...ecr, server: "123456789012.dkr.ecr.us-east-1.amazonaws.com" }, "test-credential-document"],
  ])("%s is exchanged afresh, never answered with the old one's token", async (_, changed, secret) => {
    const { auth, requests } = setup((request) => ({ ...TOKEN, password: `token-for-${request.secret}@${request.server}` }));

    await auth.derive(ecr, "test-credential-document");
    const derived = await auth.derive(changed, secret);

    expect(requests).toHaveLength(2);
    expect(derived).toEqual({ ok: true, credential: { ...TOKEN, password: `token-for-${secret}@${changed.server}` } });
  });

  it("a refused exchange is the provider's reason, not a throw", async () => {
    const { auth } = setup(() => {
      throw new ExchangeError("the role cannot be assumed");
    });

    expect(await auth.derive(ecr, "test-credential-document")).toEqual({ ok: false, reason: "the role cannot be assumed" });
  });

  it("an unexpected failure of the exchange propagates as it is", async () => {
    const failure = new TypeError("a bug in the exchanger");
    const { auth } = setup(() => {
      throw failure;
    });

    await expect(auth.derive(ecr, "test-credential-document")).rejects.toBe(failure);
  });
});
