/**
 * Cloud registries pulled for real. `aws_ecr`: the real AWS SDK exchanges the stored key pair at a fake
 * of ECR (SigV4 checked) for a token, the token is the password a real private registry (Debian
 * `docker-registry`, Basic auth, TLS with a throwaway CA) accepts for the user `AWS`, and skopeo
 * pulls the image with the pull credentials the provisioner is handed.
 *
 * No ECR host resolves here, so the app's outbound seam (`send`) takes requests for the ECR host to
 * the local registry, trusting its CA; skopeo pulls from the registry's own address with the
 * handed-out `config.json` entry re-keyed to it (the entry itself is keyed by the ECR host, as
 * runtimes look it up). The cache's clock is the test's. `gcp_service_account` the same way:
 * google-auth-library signs an assertion with a key pair made here, the fake Google endpoint
 * verifies it and answers the access token the registry holds for `oauth2accesstoken`.
 * `azure_service_principal`: the fake Entra endpoint issues a token for the service principal,
 * the app POSTs it through its guarded outbound client to the ACR host's `/oauth2/exchange`
 * (the seam sends that path to the fake's HTTPS listener), and the refresh token it answers is
 * the registry's password for `00000000-0000-0000-0000-000000000000`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { fakeAccessKeyId, startFakeAws, type FakeAws } from "@modbox/testkit/aws";
import { fakeAcrRefreshToken, startFakeAzure, type FakeAzure } from "@modbox/testkit/azure";
import { serviceAccountKey, startFakeGoogle, type FakeGoogle } from "@modbox/testkit/google";
import { copyWithAuthFile, missingRegistryBinaries, pushImage, startTestRegistry, type TestRegistry } from "@modbox/testkit/registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboundRequest } from "../../src/registry-protocol/outbound/http.js";

const missing = missingRegistryBinaries();
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(`\n!! cloud-registries-pull e2e SKIPPED: missing ${missing.join(", ")} (Debian: apt-get install docker-registry skopeo apache2-utils openssl)\n`);
}

const ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const HOUR = 3600_000;
const hex = (n: number) => randomBytes(n).toString("hex");

describe.skipIf(skip)("aws_ecr registry pulled with skopeo, app on pglite", () => {
  const WS = `e2e-ecr-${hex(4)}`;
  const TOKEN = `ecr-token-${hex(16)}`;
  const KEY = { id: fakeAccessKeyId(), secret: `aws-secret-${hex(16)}` };
  let clock = new Date();
  let registry: TestRegistry;
  let aws: FakeAws;
  let app: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  let work: string;
  let digest: string;
  let imageId: string;
  const reached: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "modbox-e2e-ecr-"));
    [registry, aws] = await Promise.all([startTestRegistry({ auth: "basic", users: { AWS: TOKEN } }), startFakeAws({ registryPassword: TOKEN, now: () => clock })]);
    aws.addAccessKey(KEY.id, KEY.secret);
    digest = await pushImage(registry, "team/app:v1", { user: "AWS", password: TOKEN });
    app = await startTestApp("pglite", {
      outbound: {
        allowPrivate: true,
        timeoutMs: 5000,
        send: (request) => {
          const url = new URL(request.url);
          reached.push(`${request.method} ${url.host}${url.pathname}`);
          if (url.host !== ECR_HOST) return outboundRequest(request);
          url.host = registry.host;
          return outboundRequest({ ...request, url, caCertPem: registry.caCertPem });
        },
      },
      cloud: { aws: { ecrEndpoint: aws.endpoint, stsEndpoint: aws.endpoint }, now: () => clock },
    });
    client = app.client(WS);
    provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
  });

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
    await aws?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("?verify=true logs in to the registry with the exchanged token: verified", async () => {
    const created = await client.registries.create(
      { auth_type: "aws_ecr", name: "ecr", server: ECR_HOST, aws_access_key_id: KEY.id, aws_secret_access_key: KEY.secret },
      { verify: true },
    );
    expect(created).toMatchObject({ auth_type: "aws_ecr", username: "AWS", verification: { status: "verified", error_code: null } });
    expect(reached).toContain(`GET ${ECR_HOST}/v2/`);
    const image = await client.sandboxImages.create({ name: "app", image: `${ECR_HOST}/team/app`, tag: "v1", registry_id: created.id });
    imageId = image.id;
  });

  it("the pull check finds the pushed manifest", async () => {
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({ pullable: true, digest, error_code: null });
  });

  it("skopeo pulls with the handed-out token (never the AWS key), which expires with the token", async () => {
    const credentials = await provisioner.provisioning.pullCredentials(imageId);
    expect(credentials.reference).toBe(`${ECR_HOST}/team/app:v1`);
    expect(credentials.expires_at).toBe(new Date(clock.getTime() + 12 * HOUR).toISOString());
    const entry = credentials.auth!.docker_config.auths[ECR_HOST]!;
    expect(Buffer.from(entry.auth, "base64").toString("utf8")).toBe(`AWS:${TOKEN}`);
    expect(JSON.stringify(credentials)).not.toContain(KEY.secret);

    const authFile = join(work, "auth.json");
    writeFileSync(authFile, JSON.stringify({ auths: { [registry.host]: entry } }), { mode: 0o600 });
    const pulled = await copyWithAuthFile(`${registry.host}/team/app:v1`, authFile, registry.certDir, join(work, "pulled"));
    expect(pulled.ok, pulled.stderr).toBe(true);
    expect(pulled.digest).toBe(digest);
    // One exchange served the verification, the pull check and the hand-out.
    expect(aws.calls.filter((c) => c.api === "ecr:GetAuthorizationToken")).toHaveLength(1);
  });

  it("once the key is revoked, the next exchange (past half the token's life) is exchange_failed, and nothing is handed out", async () => {
    aws.revokeAccessKey(KEY.id);
    // Within half its life the cached token is still handed out: it still works at the registry.
    expect((await provisioner.provisioning.pullCredentials(imageId)).auth).not.toBeNull();
    clock = new Date(clock.getTime() + 6 * HOUR + 1000);
    const err = await provisioner.provisioning.pullCredentials(imageId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect([(err as APIError).status, (err as APIError).code]).toEqual([502, "exchange_failed"]);
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({ pullable: false, error_code: "exchange_failed" });
  });

  it("the AWS secret key is in no answer and no log line", () => {
    const lines = app.logs.filter((line) => line.includes(KEY.secret) || line.includes(TOKEN));
    expect(lines).toEqual([]);
  });
});

describe.skipIf(skip)("gcp_service_account registry pulled with skopeo, app on pglite", () => {
  const GCP_HOST = "europe-docker.pkg.dev";
  const WS = `e2e-gcp-${hex(4)}`;
  const ACCESS_TOKEN = `ya29.${hex(24)}`;
  const EMAIL = `puller-${hex(3)}@modbox-test.iam.gserviceaccount.com`;
  const account = serviceAccountKey(EMAIL);
  let registry: TestRegistry;
  let google: FakeGoogle;
  let app: TestApp;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "modbox-e2e-gcp-"));
    [registry, google] = await Promise.all([
      startTestRegistry({ auth: "basic", users: { oauth2accesstoken: ACCESS_TOKEN } }),
      startFakeGoogle({ accessToken: ACCESS_TOKEN }),
    ]);
    google.addAccount(EMAIL, account.publicKey);
    await pushImage(registry, "proj/repo/app:v1", { user: "oauth2accesstoken", password: ACCESS_TOKEN });
    app = await startTestApp("pglite", {
      outbound: {
        allowPrivate: true,
        timeoutMs: 5000,
        send: (request) => {
          const url = new URL(request.url);
          if (url.host !== GCP_HOST) return outboundRequest(request);
          url.host = registry.host;
          return outboundRequest({ ...request, url, caCertPem: registry.caCertPem });
        },
      },
      cloud: { gcp: { tokenEndpoint: google.tokenEndpoint } },
    });
  });

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
    await google?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("verifies with the access token, and skopeo pulls with the handed-out oauth2accesstoken credential", async () => {
    const client = app.client(WS);
    const provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
    const created = await client.registries.create(
      { auth_type: "gcp_service_account", name: "gcp", server: GCP_HOST, gcp_service_account_key: account.json },
      { verify: true },
    );
    expect(created.verification).toMatchObject({ status: "verified" });
    const image = await client.sandboxImages.create({ name: "app", image: `${GCP_HOST}/proj/repo/app`, tag: "v1", registry_id: created.id });
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: true });
    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    const entry = credentials.auth!.docker_config.auths[GCP_HOST]!;
    expect(Buffer.from(entry.auth, "base64").toString("utf8")).toBe(`oauth2accesstoken:${ACCESS_TOKEN}`);
    expect(JSON.stringify(credentials)).not.toContain("PRIVATE KEY");
    const authFile = join(work, "auth.json");
    writeFileSync(authFile, JSON.stringify({ auths: { [registry.host]: entry } }), { mode: 0o600 });
    const pulled = await copyWithAuthFile(`${registry.host}/proj/repo/app:v1`, authFile, registry.certDir, join(work, "pulled"));
    expect(pulled.ok, pulled.stderr).toBe(true);
    // One exchange served the verification, the pull check and the hand-out.
    expect(google.calls.filter((c) => c.status === 200)).toHaveLength(1);
    expect(app.logs.filter((line) => line.includes("PRIVATE KEY") || line.includes(ACCESS_TOKEN))).toEqual([]);
  });
});

describe.skipIf(skip)("azure_service_principal registry pulled with skopeo, app on pglite", () => {
  const ACR_HOST = "modboxe2e.azurecr.io";
  const ZERO_USER = "00000000-0000-0000-0000-000000000000";
  const WS = `e2e-acr-${hex(4)}`;
  const TENANT = randomUUID();
  const SP = { clientId: randomUUID(), secret: `sp-secret~${hex(16)}` };
  const clock = new Date();
  const EXP = Math.floor(clock.getTime() / 1000) + 3 * 3600;
  const REFRESH_TOKEN = fakeAcrRefreshToken(EXP);
  let registry: TestRegistry;
  let azure: FakeAzure;
  let app: TestApp;
  let work: string;
  const reached: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "modbox-e2e-acr-"));
    [registry, azure] = await Promise.all([
      startTestRegistry({ auth: "basic", users: { [ZERO_USER]: REFRESH_TOKEN } }),
      startFakeAzure({ refreshToken: REFRESH_TOKEN }),
    ]);
    azure.addServicePrincipal(TENANT, SP.clientId, SP.secret);
    await pushImage(registry, "team/app:v1", { user: ZERO_USER, password: REFRESH_TOKEN });
    app = await startTestApp("pglite", {
      outbound: {
        allowPrivate: true,
        timeoutMs: 5000,
        send: (request) => {
          const url = new URL(request.url);
          reached.push(`${request.method} ${url.host}${url.pathname}`);
          if (url.host !== ACR_HOST) return outboundRequest(request);
          // The registry's token exchange is ACR's own service; the rest is the registry API.
          if (url.pathname === "/oauth2/exchange") return outboundRequest({ ...request, url: `https://${azure.acrHost}/oauth2/exchange`, caCertPem: azure.caCertPem });
          url.host = registry.host;
          return outboundRequest({ ...request, url, caCertPem: registry.caCertPem });
        },
      },
      cloud: { azure: { authorityHost: azure.authorityHost }, now: () => clock },
    });
  });

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
    await azure?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("verifies with the ACR refresh token, and skopeo pulls with the handed-out zero-GUID credential", async () => {
    const client = app.client(WS);
    const provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
    const created = await client.registries.create(
      { auth_type: "azure_service_principal", name: "acr", server: ACR_HOST, azure_tenant_id: TENANT, azure_client_id: SP.clientId, azure_client_secret: SP.secret },
      { verify: true },
    );
    expect(created).toMatchObject({ auth_type: "azure_service_principal", username: ZERO_USER, verification: { status: "verified", error_code: null } });
    expect(reached).toEqual(expect.arrayContaining([`POST ${ACR_HOST}/oauth2/exchange`, `GET ${ACR_HOST}/v2/`]));
    const image = await client.sandboxImages.create({ name: "app", image: `${ACR_HOST}/team/app`, tag: "v1", registry_id: created.id });
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: true });
    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    expect(credentials.expires_at).toBe(new Date(EXP * 1000).toISOString());
    const entry = credentials.auth!.docker_config.auths[ACR_HOST]!;
    expect(Buffer.from(entry.auth, "base64").toString("utf8")).toBe(`${ZERO_USER}:${REFRESH_TOKEN}`);
    expect(JSON.stringify(credentials)).not.toContain(SP.secret);
    const authFile = join(work, "auth.json");
    writeFileSync(authFile, JSON.stringify({ auths: { [registry.host]: entry } }), { mode: 0o600 });
    const pulled = await copyWithAuthFile(`${registry.host}/team/app:v1`, authFile, registry.certDir, join(work, "pulled"));
    expect(pulled.ok, pulled.stderr).toBe(true);
    // One exchange (both steps) served the verification, the pull check and the hand-out.
    expect(azure.entraCalls.filter((c) => c.status === 200)).toHaveLength(1);
    expect(azure.acrCalls.filter((c) => c.status === 200)).toHaveLength(1);
    expect(app.logs.filter((line) => line.includes(SP.secret) || line.includes(REFRESH_TOKEN))).toEqual([]);
  });
});
