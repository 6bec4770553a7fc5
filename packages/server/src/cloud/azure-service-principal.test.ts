import { randomUUID } from "node:crypto";
import { startFakeAzure, type FakeAzure } from "@modbox/testkit/azure";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { fakeLookup } from "@modbox/testkit/outbound";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzureExchanger } from "./azure-service-principal.js";
import { serialiseAzureSecret } from "./azure-secret.js";
import { ExchangeError } from "./exchanger.js";

/**
 * The exchanger's edges the contract tests do not reach: the registry host's exchange refused by
 * the address policy before any connection (the host is user input), Entra unreachable, and a
 * stored tenant that would steer the token URL. The happy path and the providers' refusals are
 * in test/contract/azure-service-principal.contract.test.ts.
 */
const TENANT = randomUUID();
const SP = { tenantId: TENANT, clientId: randomUUID(), clientSecret: "sp-secret-unit" };
const request = (secret = serialiseAzureSecret(SP)) => ({ workspaceId: "ws", registryId: "r", server: "modboxunit.azurecr.io", secret });
let azure: FakeAzure;

beforeAll(async () => {
  azure = await startFakeAzure({ refreshToken: "unused" });
  azure.addServicePrincipal(TENANT, SP.clientId, SP.clientSecret);
});

afterAll(async () => {
  await azure?.close();
});

describe("createAzureExchanger", () => {
  it("never POSTs the Entra token to a registry host that resolves to a private address", async () => {
    const exchanger = createAzureExchanger({
      authorityHost: azure.authorityHost,
      outbound: { allowPrivate: false, timeoutMs: 2000, lookup: fakeLookup({ "modboxunit.azurecr.io": ["10.1.2.3"] }) },
      timeoutMs: 2000,
      now: () => new Date(),
    });
    const error = await exchanger.exchange(request()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ExchangeError);
    expect((error as Error).message).toMatch(/^modboxunit\.azurecr\.io: the ACR token exchange could not be completed: .*private/);
    expect((error as Error).message).not.toContain("10.1.2.3");
    // Entra was asked; the registry host's address was refused before a socket (hostile-targets.test.ts).
    expect(azure.entraCalls.at(-1)?.status).toBe(200);
    expect(azure.acrCalls).toEqual([]);
  });

  it("says only the kind of failure when Entra cannot be reached", async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const exchanger = createAzureExchanger({ authorityHost: `http://127.0.0.1:${port}`, outbound: { allowPrivate: true }, timeoutMs: 2000, now: () => new Date() });
    await expect(exchanger.exchange(request())).rejects.toThrow(/^Microsoft Entra could not be reached \(ECONNREFUSED\)$/);
  });

  it("refuses a stored tenant that is not a GUID or a domain, before anything is sent", async () => {
    const exchanger = createAzureExchanger({ authorityHost: azure.authorityHost, outbound: { allowPrivate: true }, timeoutMs: 2000, now: () => new Date() });
    const calls = azure.entraCalls.length;
    await expect(exchanger.exchange(request(serialiseAzureSecret({ ...SP, tenantId: "../evil" })))).rejects.toThrow("the stored tenant or client id is not valid");
    expect(azure.entraCalls.length).toBe(calls);
  });
});
