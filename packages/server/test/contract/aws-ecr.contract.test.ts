import { randomBytes } from "node:crypto";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { fakeAccessKeyId, startFakeAws, type FakeAws } from "@modbox/testkit/aws";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { send } from "@modbox/testkit/http";
import { fakeLookup } from "@modbox/testkit/outbound";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * `aws_ecr` registries against the real app and the real AWS SDK, pointed at a fake of STS and
 * ECR (MODBOX_AWS_*_ENDPOINT) that checks every SigV4 signature: what is stored and refused, the
 * token handed out instead of the key (with its expiry), the cache (a hit, a refresh past half
 * its lifetime, a failure remembered for 60 s, on the test's clock: no waiting), a role assumed
 * with ExternalId = the workspace id, and `exchange_failed` audited. No registry is contacted
 * here: pull credentials need none (test/e2e/cloud-registries-pull.test.ts pulls with skopeo).
 */
const ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const ROLE_ARN = "arn:aws:iam::123456789012:role/modbox-ecr-pull";
const HOUR = 3600_000;
const hex = (n = 6) => randomBytes(n).toString("hex");

describe.each(backends)("aws_ecr registries on %s", (backend) => {
  const WS = `ecr-${hex()}`;
  const REGISTRY_PASSWORD = `ecr-token-${hex(16)}`;
  const USER_KEY = { id: fakeAccessKeyId(), secret: `user-secret-${hex(16)}` };
  const SERVER_KEY = { id: fakeAccessKeyId(), secret: `server-secret-${hex(16)}` };
  let clock = new Date("2026-11-29T12:00:00.000Z");
  const now = () => clock;
  let aws: FakeAws;
  let app: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;

  const keyPairBody = (name: string) => ({
    auth_type: "aws_ecr" as const,
    name,
    server: ECR_HOST,
    aws_access_key_id: USER_KEY.id,
    aws_secret_access_key: USER_KEY.secret,
  });
  const imageOf = (registryId: string) => client.sandboxImages.create({ name: `app ${hex()}`, image: `${ECR_HOST}/team/app`, tag: "v1", registry_id: registryId });
  const outcomes = async (imageId: string) =>
    rowsOf(await app.database.db.execute(sql`select outcome from pull_credential_events where image_id = ${imageId} order by id`)).map((r) => r.outcome);
  const ecrCalls = () => aws.calls.filter((c) => c.api === "ecr:GetAuthorizationToken").length;

  beforeAll(async () => {
    aws = await startFakeAws({ registryPassword: REGISTRY_PASSWORD, now });
    aws.addAccessKey(USER_KEY.id, USER_KEY.secret);
    aws.addAccessKey(SERVER_KEY.id, SERVER_KEY.secret);
    aws.addRole(ROLE_ARN, { trustedKeyIds: [SERVER_KEY.id], externalId: WS });
    app = await startTestApp(backend, {
      // No registry resolves: a pull check is the exchange and then registry_unreachable, and
      // a token minted here can never reach a real ECR.
      outbound: { allowPrivate: true, timeoutMs: 5000, lookup: fakeLookup({}) },
      cloud: {
        aws: { stsEndpoint: aws.endpoint, ecrEndpoint: aws.endpoint, serverCredentials: { accessKeyId: SERVER_KEY.id, secretAccessKey: SERVER_KEY.secret } },
        now,
      },
    });
    client = app.client(WS);
    provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
  });

  afterAll(async () => {
    await app?.close();
    await aws?.close();
  });

  it("stores a key pair: 201, auth_type aws_ecr, username AWS, no secret in the answer", async () => {
    const created = await client.registries.create(keyPairBody(`keys ${hex()}`));
    expect(created).toMatchObject({ auth_type: "aws_ecr", provider: "ecr", server: ECR_HOST, username: "AWS", warnings: [] });
    const text = JSON.stringify(created);
    expect(text).not.toContain(USER_KEY.secret);
    expect(text).not.toContain(USER_KEY.id);
    const [row] = rowsOf(await app.database.db.execute(sql`select auth_type, password_ciphertext from registries where id = ${created.id}`));
    expect(row!.auth_type).toBe("aws_ecr");
    expect(String(row!.password_ciphertext)).not.toContain(USER_KEY.secret);
  });

  it("refuses what cannot work, naming the field and never the value", async () => {
    const refused = async (path: string, body: object, method: "POST" | "PUT" = "POST") => {
      const res = await send(app.url, { method, path, token: app.token, workspace: WS, json: body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      const problem = res.json as { code: string; errors: { path: string; message: string }[] };
      expect(problem.code).toBe("validation_failed");
      expect(res.text).not.toContain(USER_KEY.secret);
      return problem.errors;
    };
    const base = keyPairBody(`bad ${hex()}`);
    expect(await refused("/registries", { ...base, server: "ghcr.io" })).toEqual([{ path: "/body/server", message: expect.stringContaining("ECR registry host") }]);
    expect(await refused("/registries", { ...base, aws_role_arn: ROLE_ARN })).toEqual([{ path: "/body/aws_role_arn", message: expect.stringContaining("not be sent with") }]);
    const { aws_access_key_id: _id, aws_secret_access_key: _secret, ...neither } = base;
    expect(await refused("/registries", neither)).toEqual([{ path: "/body/aws_role_arn", message: expect.stringContaining("is required unless") }]);
    expect(await refused("/registries", { ...base, aws_secret_access_key: undefined })).toEqual([
      { path: "/body/aws_secret_access_key", message: "is required when aws_access_key_id is sent" },
    ]);
    // Each schema's own rules only: a basic field on an aws_ecr body, and the other way round.
    expect(await refused("/registries", { ...base, username: "AWS" })).toEqual([{ path: "/body/username", message: "is not a known property" }]);
    expect(await refused("/registries", { name: "x", server: "ghcr.io", username: "u", password: "p", aws_role_arn: ROLE_ARN })).toEqual([
      { path: "/body/aws_role_arn", message: "is not a known property" },
    ]);
    expect(await refused("/registries", { ...base, auth_type: "gcp" })).toEqual([{ path: "/body/auth_type", message: "must be one of: basic, aws_ecr, gcp_service_account, azure_service_principal" }]);
    expect(await refused("/registries", { ...base, aws_role_arn: "arn:aws:iam::1:user/x", aws_access_key_id: undefined, aws_secret_access_key: undefined })).toEqual([
      { path: "/body/aws_role_arn", message: expect.stringContaining("IAM role ARN") },
    ]);

    const basic = await client.registries.create({ name: `basic ${hex()}`, server: "ghcr.io", username: "octocat", password: `ghp_${hex(18)}` });
    expect(await refused(`/registries/${basic.id}`, { aws_role_arn: ROLE_ARN }, "PUT")).toEqual([
      { path: "/body/aws_role_arn", message: expect.stringContaining("not a field of basic registries") },
    ]);
    const ecr = await client.registries.create(keyPairBody(`keys ${hex()}`));
    expect(await refused(`/registries/${ecr.id}`, { password: "x" }, "PUT")).toEqual([
      { path: "/body/password", message: expect.stringContaining("not a field of aws_ecr registries") },
    ]);
    expect(await refused(`/registries/${ecr.id}`, { server: "ghcr.io" }, "PUT")).toEqual([{ path: "/body/server", message: expect.stringContaining("ECR registry host") }]);
  });

  it("hands out the exchanged token with its expiry, never the key; the second pull is a cache hit", async () => {
    const registry = await client.registries.create(keyPairBody(`keys ${hex()}`));
    const image = await imageOf(registry.id);
    const before = ecrCalls();
    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    expect(credentials.expires_at).toBe(new Date(clock.getTime() + 12 * HOUR).toISOString());
    expect(credentials.auth?.docker_config.auths[ECR_HOST]?.auth).toBe(Buffer.from(`AWS:${REGISTRY_PASSWORD}`).toString("base64"));
    const text = JSON.stringify(credentials);
    expect(text).not.toContain(USER_KEY.secret);
    expect(text).not.toContain(USER_KEY.id);
    expect(ecrCalls()).toBe(before + 1);
    expect(aws.calls.at(-1)).toMatchObject({ api: "ecr:GetAuthorizationToken", accessKeyId: USER_KEY.id, status: 200 });

    // A pull check and a second hand-out are served from the cache.
    clock = new Date(clock.getTime() + 5 * HOUR);
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, error_code: "registry_unreachable" });
    expect((await provisioner.provisioning.pullCredentials(image.id)).expires_at).toBe(credentials.expires_at);
    expect(ecrCalls()).toBe(before + 1);

    // Past half its lifetime (6 of 12 hours), the token is exchanged again.
    clock = new Date(clock.getTime() + 1 * HOUR + 1000);
    const refreshed = await provisioner.provisioning.pullCredentials(image.id);
    expect(ecrCalls()).toBe(before + 2);
    expect(refreshed.expires_at).toBe(new Date(clock.getTime() + 12 * HOUR).toISOString());
    expect(await outcomes(image.id)).toEqual(["issued", "issued", "issued"]);
  });

  it("a revoked key: exchange_failed (502) with AWS's reason, audited, remembered for 60 s; verify and pull check say so too", async () => {
    const key = { id: fakeAccessKeyId(), secret: `revoked-${hex(16)}` };
    aws.addAccessKey(key.id, key.secret);
    aws.revokeAccessKey(key.id);
    const registry = await client.registries.create({ ...keyPairBody(`revoked ${hex()}`), aws_access_key_id: key.id, aws_secret_access_key: key.secret });
    const image = await imageOf(registry.id);
    const before = ecrCalls();

    const err = await provisioner.provisioning.pullCredentials(image.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const problem = err as APIError;
    expect([problem.status, problem.code]).toEqual([502, "exchange_failed"]);
    expect(problem.detail).toContain("UnrecognizedClientException");
    expect(JSON.stringify(problem.problem)).not.toContain(key.secret);
    expect(await outcomes(image.id)).toEqual(["exchange_failed"]);
    expect(ecrCalls()).toBe(before + 1);

    // Within 60 s the failure is answered from the cache.
    expect(await client.registries.verify(registry.id)).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("UnrecognizedClientException") });
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, error_code: "exchange_failed" });
    expect(ecrCalls()).toBe(before + 1);
    expect((await client.registries.get(registry.id)).verification.error_code).toBe("exchange_failed");

    // A new key replaces the stored credential: no stale failure, a fresh exchange.
    await client.registries.update(registry.id, { aws_access_key_id: USER_KEY.id, aws_secret_access_key: USER_KEY.secret });
    expect((await provisioner.provisioning.pullCredentials(image.id)).expires_at).toEqual(expect.any(String));
    expect(ecrCalls()).toBe(before + 2);

    // After 60 s a failure is asked again.
    const revoked = await client.registries.create({ ...keyPairBody(`revoked ${hex()}`), aws_access_key_id: key.id, aws_secret_access_key: key.secret });
    const other = await imageOf(revoked.id);
    await provisioner.provisioning.pullCredentials(other.id).catch(() => undefined);
    const afterFirst = ecrCalls();
    clock = new Date(clock.getTime() + 61_000);
    await provisioner.provisioning.pullCredentials(other.id).catch(() => undefined);
    expect(ecrCalls()).toBe(afterFirst + 1);
    expect(await outcomes(other.id)).toEqual(["exchange_failed", "exchange_failed"]);
  });

  it("a key pair with the wrong secret fails AWS's signature check: exchange_failed, the secret never shown", async () => {
    const wrong = `wrong-${hex(16)}`;
    const registry = await client.registries.create({ ...keyPairBody(`wrong ${hex()}`), aws_secret_access_key: wrong });
    const verification = await client.registries.verify(registry.id);
    expect(verification).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("InvalidSignatureException") });
    expect(JSON.stringify(verification)).not.toContain(wrong);
    // Refused before the key was taken as authenticated.
    expect(aws.calls.at(-1)).toMatchObject({ api: "ecr:GetAuthorizationToken", accessKeyId: null, status: 403 });
  });

  it("a role is assumed with this server's identity and ExternalId = the workspace id; another workspace cannot borrow it", async () => {
    const registry = await client.registries.create({ auth_type: "aws_ecr", name: `role ${hex()}`, server: ECR_HOST, aws_role_arn: ROLE_ARN });
    const image = await imageOf(registry.id);
    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    expect(credentials.auth?.docker_config.auths[ECR_HOST]?.auth).toBe(Buffer.from(`AWS:${REGISTRY_PASSWORD}`).toString("base64"));
    const assumed = aws.calls.filter((c) => c.api === "sts:AssumeRole").at(-1);
    expect(assumed).toMatchObject({ accessKeyId: SERVER_KEY.id, externalId: WS, roleSessionName: `modbox-${registry.id}`, status: 200 });
    // The ECR call was signed with the session's key, not the server's.
    const ecr = aws.calls.at(-1)!;
    expect(ecr.api).toBe("ecr:GetAuthorizationToken");
    expect(ecr.accessKeyId).toMatch(/^ASIA/);
    // The session lasts an hour: the token is handed out as working that long, not 12 hours.
    expect(credentials.expires_at).toBe(new Date(clock.getTime() + HOUR).toISOString());

    const OTHER = `ecr-other-${hex()}`;
    const otherClient = app.client(OTHER);
    const borrowed = await otherClient.registries.create({ auth_type: "aws_ecr", name: "borrowed", server: ECR_HOST, aws_role_arn: ROLE_ARN });
    expect(await otherClient.registries.verify(borrowed.id)).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("AccessDenied") });
    expect(aws.calls.filter((c) => c.api === "sts:AssumeRole").at(-1)).toMatchObject({ externalId: OTHER, status: 403 });
  });
});
