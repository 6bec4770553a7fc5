import { randomBytes } from "node:crypto";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { serviceAccountKey, startFakeGoogle, type FakeGoogle } from "@modbox/testkit/google";
import { send } from "@modbox/testkit/http";
import { fakeLookup } from "@modbox/testkit/outbound";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * `gcp_service_account` registries against the real app and google-auth-library, pointed at a
 * fake of Google's token endpoint (MODBOX_GCP_TOKEN_ENDPOINT) that verifies each RS256 assertion
 * with the account's public key: what is stored and refused (a key whose token_uri is not
 * Google's is never used), the access token handed out as `oauth2accesstoken` with its expiry,
 * the cache, and `exchange_failed` for a key Google no longer accepts. Key pairs are made here.
 */
const SERVER = "europe-docker.pkg.dev";
const hex = (n = 6) => randomBytes(n).toString("hex");

describe.each(backends)("gcp_service_account registries on %s", (backend) => {
  const WS = `gcp-${hex()}`;
  const ACCESS_TOKEN = `ya29.${hex(24)}`;
  const EMAIL = `puller-${hex(3)}@modbox-test.iam.gserviceaccount.com`;
  const account = serviceAccountKey(EMAIL);
  const clock = new Date();
  let google: FakeGoogle;
  let app: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  const body = (name: string, key = account.json) => ({ auth_type: "gcp_service_account" as const, name, server: SERVER, gcp_service_account_key: key });
  const imageOf = (registryId: string) => client.sandboxImages.create({ name: `app ${hex()}`, image: `${SERVER}/proj/repo/app`, tag: "v1", registry_id: registryId });
  const privateKeyOf = (json: string) => (JSON.parse(json) as { private_key: string }).private_key;

  beforeAll(async () => {
    google = await startFakeGoogle({ accessToken: ACCESS_TOKEN });
    google.addAccount(EMAIL, account.publicKey);
    app = await startTestApp(backend, {
      outbound: { allowPrivate: true, timeoutMs: 5000, lookup: fakeLookup({}) },
      cloud: { gcp: { tokenEndpoint: google.tokenEndpoint }, now: () => clock },
    });
    client = app.client(WS);
    provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
  });

  afterAll(async () => {
    await app?.close();
    await google?.close();
  });

  it("stores the key: 201, auth_type gcp_service_account, username oauth2accesstoken, the key in no answer", async () => {
    const created = await client.registries.create(body(`gcp ${hex()}`));
    expect(created).toMatchObject({ auth_type: "gcp_service_account", provider: "google", username: "oauth2accesstoken", warnings: [] });
    expect(JSON.stringify(created)).not.toContain("PRIVATE KEY");
  });

  it("refuses a key whose token_uri is not Google's (422), before anything is sent; and what is no key, or no Google host", async () => {
    const refused = async (json: object) => {
      const res = await send(app.url, { method: "POST", path: "/registries", token: app.token, workspace: WS, json });
      expect(res.status).toBe(422);
      expect(res.text).not.toContain("PRIVATE KEY");
      return (res.json as { errors: unknown[] }).errors;
    };
    const elsewhere = serviceAccountKey(EMAIL, "https://attacker.example/token");
    const calls = google.calls.length;
    expect(await refused(body(`evil ${hex()}`, elsewhere.json))).toEqual([
      { path: "/body/gcp_service_account_key", message: expect.stringContaining("token_uri (https://oauth2.googleapis.com/token)") },
    ]);
    expect(await refused(body(`notjson ${hex()}`, "{not json"))).toEqual([{ path: "/body/gcp_service_account_key", message: expect.stringContaining("not JSON") }]);
    expect(await refused({ ...body(`host ${hex()}`), server: "ghcr.io" })).toEqual([{ path: "/body/server", message: expect.stringContaining("Google registry host") }]);
    expect(await refused({ ...body(`mixed ${hex()}`), password: "x" })).toEqual([{ path: "/body/password", message: "is not a known property" }]);
    expect(google.calls.length).toBe(calls);
  });

  it("hands out the access token as oauth2accesstoken with its expiry, never the key; the second pull is a cache hit", async () => {
    const registry = await client.registries.create(body(`gcp ${hex()}`));
    const image = await imageOf(registry.id);
    const before = google.calls.length;
    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    expect(Buffer.from(credentials.auth!.docker_config.auths[SERVER]!.auth, "base64").toString("utf8")).toBe(`oauth2accesstoken:${ACCESS_TOKEN}`);
    const expiresIn = new Date(credentials.expires_at!).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(3000_000);
    expect(expiresIn).toBeLessThanOrEqual(3600_000);
    expect(JSON.stringify(credentials)).not.toContain(privateKeyOf(account.json).slice(40, 80));
    expect(google.calls.slice(before)).toEqual([{ iss: EMAIL, scope: "https://www.googleapis.com/auth/cloud-platform", status: 200 }]);
    await provisioner.provisioning.pullCredentials(image.id);
    expect(google.calls.length).toBe(before + 1);
  });

  it("a key Google no longer accepts: exchange_failed with Google's reason, audited", async () => {
    const email = `gone-${hex(3)}@modbox-test.iam.gserviceaccount.com`;
    const gone = serviceAccountKey(email);
    google.addAccount(email, gone.publicKey);
    const registry = await client.registries.create(body(`gone ${hex()}`, gone.json));
    google.removeAccount(email);
    const image = await imageOf(registry.id);
    const err = await provisioner.provisioning.pullCredentials(image.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect([(err as APIError).status, (err as APIError).code]).toEqual([502, "exchange_failed"]);
    expect((err as APIError).detail).toContain("invalid_grant");
    expect(JSON.stringify((err as APIError).problem)).not.toContain("PRIVATE KEY");
    const outcomes = rowsOf(await app.database.db.execute(sql`select outcome from pull_credential_events where image_id = ${image.id}`));
    expect(outcomes).toEqual([{ outcome: "exchange_failed" }]);

    // A key signed by another key pair than the account's: the signature check fails the same way.
    const forged = serviceAccountKey(EMAIL);
    const other = await client.registries.create(body(`forged ${hex()}`, forged.json));
    expect(await client.registries.verify(other.id)).toMatchObject({ status: "failed", error_code: "exchange_failed", detail: expect.stringContaining("Invalid JWT Signature") });
  });
});
