import { randomBytes, randomUUID } from "node:crypto";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { fakeAcrRefreshToken, startFakeAzure, type FakeAzure } from "@modbox/testkit/azure";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { send } from "@modbox/testkit/http";
import { fakeLookup } from "@modbox/testkit/outbound";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboundRequest } from "../../src/registry-protocol/outbound/http.js";

/**
 * `azure_service_principal` registries against the real app, with a fake of Microsoft Entra's
 * token endpoint (MODBOX_AZURE_AUTHORITY_HOST) and of ACR's `/oauth2/exchange`, which the
 * registry host's exchange reaches through the app's real, guarded outbound client (the test's
 * `send` seam points the ACR host's `/oauth2/exchange` at the fake's HTTPS listener; nothing else
 * resolves). What is stored and refused, the refresh token handed out as the all-zero GUID user
 * with the expiry its `exp` says, the cache (a hit, a refresh past half its lifetime, a failure
 * remembered for 60 s, on the test's clock), and `exchange_failed` audited with Entra's or ACR's
 * reason, never the client secret.
 */
const ACR_HOST = "modboxtest.azurecr.io";
const ZERO_USER = "00000000-0000-0000-0000-000000000000";
const HOUR = 3600_000;
const hex = (n = 6) => randomBytes(n).toString("hex");

describe.each(backends)("azure_service_principal registries on %s", (backend) => {
  const WS = `acr-${hex()}`;
  const TENANT = randomUUID();
  const SP = { clientId: randomUUID(), secret: `sp-secret~${hex(16)}` };
  let clock = new Date("2026-11-29T12:00:00.000Z");
  const now = () => clock;
  const expSeconds = (hoursFromNow: number) => Math.floor((clock.getTime() + hoursFromNow * HOUR) / 1000);
  let refreshToken = fakeAcrRefreshToken(expSeconds(3));
  let azure: FakeAzure;
  let app: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  const reached: string[] = [];

  const body = (name: string, sp = SP) => ({
    auth_type: "azure_service_principal" as const,
    name,
    server: ACR_HOST,
    azure_tenant_id: TENANT,
    azure_client_id: sp.clientId,
    azure_client_secret: sp.secret,
  });
  const imageOf = (registryId: string) => client.sandboxImages.create({ name: `app ${hex()}`, image: `${ACR_HOST}/team/app`, tag: "v1", registry_id: registryId });
  const outcomes = async (imageId: string) =>
    rowsOf(await app.database.db.execute(sql`select outcome from pull_credential_events where image_id = ${imageId} order by id`)).map((r) => r.outcome);
  const entraCalls = () => azure.entraCalls.length;

  beforeAll(async () => {
    azure = await startFakeAzure({ refreshToken });
    azure.addServicePrincipal(TENANT, SP.clientId, SP.secret);
    app = await startTestApp(backend, {
      outbound: {
        allowPrivate: true,
        timeoutMs: 5000,
        lookup: fakeLookup({}),
        send: (request) => {
          const url = new URL(request.url);
          reached.push(`${request.method} ${url.host}${url.pathname}`);
          if (url.host !== ACR_HOST || url.pathname !== "/oauth2/exchange") return outboundRequest(request);
          return outboundRequest({ ...request, url: `https://${azure.acrHost}/oauth2/exchange`, caCertPem: azure.caCertPem });
        },
      },
      cloud: { azure: { authorityHost: azure.authorityHost }, now },
    });
    client = app.client(WS);
    provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
  });

  afterAll(async () => {
    await app?.close();
    await azure?.close();
  });

  it("stores the service principal: 201, auth_type azure_service_principal, the zero GUID user, no secret in the answer or the row", async () => {
    const created = await client.registries.create(body(`acr ${hex()}`));
    expect(created).toMatchObject({ auth_type: "azure_service_principal", provider: "acr", server: ACR_HOST, username: ZERO_USER, warnings: [] });
    const text = JSON.stringify(created);
    expect(text).not.toContain(SP.secret);
    expect(text).not.toContain(TENANT);
    expect(text).not.toContain(SP.clientId);
    const [row] = rowsOf(await app.database.db.execute(sql`select auth_type, password_ciphertext from registries where id = ${created.id}`));
    expect(row!.auth_type).toBe("azure_service_principal");
    expect(String(row!.password_ciphertext)).not.toContain(SP.secret);
  });

  it("refuses what cannot work (422), naming the field and never the value, before anything is sent", async () => {
    const refused = async (path: string, json: object, method: "POST" | "PUT" = "POST") => {
      const res = await send(app.url, { method, path, token: app.token, workspace: WS, json });
      expect(res.status, JSON.stringify(json)).toBe(422);
      const problem = res.json as { code: string; errors: { path: string; message: string }[] };
      expect(problem.code).toBe("validation_failed");
      expect(res.text).not.toContain(SP.secret);
      return problem.errors;
    };
    const calls = entraCalls();
    const base = body(`bad ${hex()}`);
    for (const tenant of ["common", "../../evil.example/x", "contoso.com/oauth2", "evil.example?x="]) {
      expect(await refused("/registries", { ...base, azure_tenant_id: tenant })).toEqual([
        { path: "/body/azure_tenant_id", message: expect.stringContaining("tenant id (a GUID) or a verified domain") },
      ]);
    }
    expect(await refused("/registries", { ...base, azure_client_id: "my-app" })).toEqual([{ path: "/body/azure_client_id", message: expect.stringContaining("GUID") }]);
    for (const server of ["ghcr.io", "modboxtest.azurecr.io:8443", "modboxtest.azurecr.io.evil.example", "127.0.0.1"]) {
      expect(await refused("/registries", { ...base, server })).toEqual([{ path: "/body/server", message: expect.stringContaining("ACR login server") }]);
    }
    const { azure_client_secret: _secret, ...noSecret } = base;
    expect(await refused("/registries", noSecret)).toEqual([{ path: "/body/azure_client_secret", message: expect.stringContaining("required") }]);
    expect(await refused("/registries", { ...base, password: "x" })).toEqual([{ path: "/body/password", message: "is not a known property" }]);

    const acr = await client.registries.create(body(`acr ${hex()}`));
    expect(await refused(`/registries/${acr.id}`, { server: "ghcr.io" }, "PUT")).toEqual([{ path: "/body/server", message: expect.stringContaining("ACR login server") }]);
    expect(await refused(`/registries/${acr.id}`, { aws_role_arn: "arn:aws:iam::123456789012:role/x" }, "PUT")).toEqual([
      { path: "/body/aws_role_arn", message: expect.stringContaining("not a field of azure_service_principal registries") },
    ]);
    const onlySecret = await refused(`/registries/${acr.id}`, { azure_client_secret: "new" }, "PUT");
    expect(onlySecret.map((e) => e.path).sort()).toEqual(["/body/azure_client_id", "/body/azure_tenant_id"]);
    const basic = await client.registries.create({ name: `basic ${hex()}`, server: "ghcr.io", username: "octocat", password: `ghp_${hex(18)}` });
    expect(await refused(`/registries/${basic.id}`, { azure_tenant_id: TENANT, azure_client_id: SP.clientId, azure_client_secret: SP.secret }, "PUT")).toEqual(
      expect.arrayContaining([{ path: "/body/azure_client_secret", message: expect.stringContaining("not a field of basic registries") }]),
    );
    expect(entraCalls()).toBe(calls);
  });

  it("hands out the ACR refresh token as the zero GUID user, expiring at its exp; a cache hit, then a refresh past half its life", async () => {
    const registry = await client.registries.create(body(`acr ${hex()}`));
    const image = await imageOf(registry.id);
    const before = entraCalls();
    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    expect(credentials.expires_at).toBe(new Date(clock.getTime() + 3 * HOUR).toISOString());
    expect(credentials.auth?.docker_config.auths[ACR_HOST]?.auth).toBe(Buffer.from(`${ZERO_USER}:${refreshToken}`).toString("base64"));
    const text = JSON.stringify(credentials);
    expect(text).not.toContain(SP.secret);
    expect(azure.entraCalls.slice(before)).toEqual([{ tenant: TENANT, clientId: SP.clientId, scope: "https://containerregistry.azure.net/.default", status: 200 }]);
    expect(azure.acrCalls.at(-1)).toEqual({ service: ACR_HOST, tenant: TENANT, status: 200 });
    expect(reached).toContain(`POST ${ACR_HOST}/oauth2/exchange`);

    // Within half its life (1.5 of 3 hours): the pull check and a second hand-out are cache hits.
    clock = new Date(clock.getTime() + HOUR);
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, error_code: "registry_unreachable" });
    expect((await provisioner.provisioning.pullCredentials(image.id)).expires_at).toBe(credentials.expires_at);
    expect(entraCalls()).toBe(before + 1);

    // Past it, both steps again; ACR's new token brings its own exp.
    clock = new Date(clock.getTime() + HOUR / 2 + 1000);
    refreshToken = fakeAcrRefreshToken(expSeconds(3));
    azure.setRefreshToken(refreshToken);
    const refreshed = await provisioner.provisioning.pullCredentials(image.id);
    expect(entraCalls()).toBe(before + 2);
    expect(refreshed.expires_at).toBe(new Date(expSeconds(3) * 1000).toISOString());
    expect(await outcomes(image.id)).toEqual(["issued", "issued", "issued"]);
  });

  it("a refresh token without exp lives ACR's documented 3 hours", async () => {
    const principal = { clientId: randomUUID(), secret: `sp-${hex(12)}` };
    azure.addServicePrincipal(TENANT, principal.clientId, principal.secret);
    azure.setRefreshToken(`opaque-${hex(16)}`);
    try {
      const registry = await client.registries.create(body(`noexp ${hex()}`, principal));
      const credentials = await provisioner.provisioning.pullCredentials((await imageOf(registry.id)).id);
      expect(credentials.expires_at).toBe(new Date(clock.getTime() + 3 * HOUR).toISOString());
    } finally {
      azure.setRefreshToken(refreshToken);
    }
  });

  it("a reset secret: exchange_failed (502) with Entra's reason's first line, audited, remembered for 60 s; the new secret fixes it", async () => {
    const principal = { clientId: randomUUID(), secret: `old-${hex(12)}` };
    azure.addServicePrincipal(TENANT, principal.clientId, principal.secret);
    const registry = await client.registries.create(body(`reset ${hex()}`, principal));
    const image = await imageOf(registry.id);
    azure.resetSecret(principal.clientId, `new-${hex(12)}`);
    const before = entraCalls();

    const err = await provisioner.provisioning.pullCredentials(image.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const problem = err as APIError;
    expect([problem.status, problem.code]).toEqual([502, "exchange_failed"]);
    expect(problem.detail).toContain("AADSTS7000215: Invalid client secret provided.");
    expect(problem.detail).toContain("(invalid_client)");
    expect(problem.detail).not.toContain("Trace ID");
    expect(JSON.stringify(problem.problem)).not.toContain(principal.secret);
    expect(await outcomes(image.id)).toEqual(["exchange_failed"]);

    // Within 60 s the failure is answered from the cache, by verify and the pull check too.
    expect(await client.registries.verify(registry.id)).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("AADSTS7000215") });
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, error_code: "exchange_failed" });
    expect(entraCalls()).toBe(before + 1);

    // After 60 s it is asked again.
    clock = new Date(clock.getTime() + 61_000);
    await provisioner.provisioning.pullCredentials(image.id).catch(() => undefined);
    expect(entraCalls()).toBe(before + 2);
    expect(await outcomes(image.id)).toEqual(["exchange_failed", "exchange_failed"]);

    // The new secret replaces the stored credential whole: a fresh exchange, no stale failure.
    const fresh = `fresh-${hex(12)}`;
    azure.resetSecret(principal.clientId, fresh);
    await client.registries.update(registry.id, { azure_tenant_id: TENANT, azure_client_id: principal.clientId, azure_client_secret: fresh });
    expect((await provisioner.provisioning.pullCredentials(image.id)).auth).not.toBeNull();
  });

  it("a principal without access to the registry: exchange_failed with ACR's reason; an unknown app: Entra's", async () => {
    const denied = { clientId: randomUUID(), secret: `denied-${hex(12)}` };
    azure.addServicePrincipal(TENANT, denied.clientId, denied.secret);
    azure.denyRegistry(denied.clientId);
    const registry = await client.registries.create(body(`denied ${hex()}`, denied));
    const verification = await client.registries.verify(registry.id);
    expect(verification).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("HTTP 401") });
    expect(verification.detail).toContain("(UNAUTHORIZED)");
    expect(verification.detail).toContain("not authorized to access the registry");
    expect(JSON.stringify(verification)).not.toContain(denied.secret);
    expect(JSON.stringify(verification)).not.toContain("entra.");

    const unknown = await client.registries.create(body(`unknown ${hex()}`, { clientId: randomUUID(), secret: `x-${hex(8)}` }));
    expect(await client.registries.verify(unknown.id)).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("AADSTS700016") });
  });

  it("no log line carries the client secret or a token", () => {
    expect(app.logs.filter((line) => line.includes(SP.secret) || line.includes(refreshToken) || line.includes("entra."))).toEqual([]);
  });
});
