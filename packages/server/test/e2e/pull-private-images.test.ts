/**
 * Pulling private images for real, end to end against real components.
 *
 * A real private registry (Debian `docker-registry`, CNCF distribution 2.8, TLS with a throwaway
 * CA on 127.0.0.1), once with Basic (htpasswd) auth and once with Bearer token auth backed by the
 * test's own token server, an image pushed with skopeo, and the app on PGlite and PostgreSQL,
 * driven through the SDK: verification, pull checks, the provisioner's pull credentials pulled
 * with skopeo (the `config.json` and the Kubernetes secret as auth files), `X-Registry-Auth`
 * decoded as the Docker daemon decodes it, password changes and rotation, disable, delete,
 * scopes and workspaces, the audit trail, and a scan proving the password leaves the server only
 * in pull-credentials answers.
 *
 * The `it`s of one describe run in order and build on each other (one registry, one app).
 */
import { rejectionOf } from "@modbox/testkit/rejections";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APIError, type ModboxClient, type PullCredentials } from "@modbox/sdk";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboundRequest } from "../../src/registry-protocol/outbound/http.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, rowsOf, type Backend } from "@modbox/testkit/databases";
import {
  appAccessLog,
  decodeGoStdEncoding,
  decodeGoUrlEncoding,
  ExchangeLog,
  exchangeText,
  findSecrets,
  recordingClient,
  tokenIdOf,
} from "@modbox/testkit/exchanges";
import {
  copyWithAuthFile,
  getV2,
  missingRegistryBinaries,
  pushImage,
  startTestRegistry,
  type TestRegistry,
  type TestRegistryAuth,
} from "@modbox/testkit/registry";

const missing = missingRegistryBinaries();
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(
    `\n!! pull-private-images e2e SKIPPED: missing ${missing.join(", ")} ` +
      "(Debian: apt-get install docker-registry skopeo apache2-utils openssl)\n",
  );
}

const USER = "robot";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
const EVENT_COLUMNS = ["created_at", "id", "image_id", "outcome", "registry_id", "token_id", "workspace_id"];

/** A registry credential for the test registry, its CA trusted per registry. */
function credentialAt(registry: TestRegistry, name: string, password: string) {
  return { name, server: registry.host, username: USER, password, ca_certificate: registry.caCertPem };
}

/** A sandbox image of the image pushed to the test registry (`org/image`), linked to `registryId`. */
function pushedImageAt(registry: TestRegistry, name: string, tag: string, registryId: string) {
  return { name, image: `${registry.host}/org/image`, tag, registry_id: registryId };
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A password whose `X-Registry-Auth` document encodes, in standard base64, with both `+` and
 * `/` and with `=` padding: so an unpadded or standard-alphabet encoding cannot pass the strict
 * decoder by luck.
 */
function awkwardPassword(prefix: string, host: string): string {
  for (let attempt = 0; attempt < 10_000; attempt++) {
    // The length varies too: whether the document needs padding depends on it.
    // `?` and `>` become `/` and `+` when they end a 3-byte group; 6 of them alternate over both.
    const password = `${prefix}-${randomBytes(9 + (attempt % 3)).toString("base64url")}?>?>?>`;
    const std = Buffer.from(JSON.stringify({ username: USER, password, serveraddress: host })).toString("base64");
    if (std.includes("+") && std.includes("/") && std.endsWith("=")) return password;
  }
  throw new Error("no password with the wanted encoding found");
}

/** What the Docker daemon reads from `X-Registry-Auth`. */
function dockerDaemonAuthConfig(header: string): unknown {
  return JSON.parse(decodeGoUrlEncoding(header).toString("utf8"));
}

/** What the kubelet reads from a `kubernetes.io/dockerconfigjson` secret. */
function kubeletDockerConfig(secret: NonNullable<PullCredentials["auth"]>["kubernetes_secret"]): unknown {
  return JSON.parse(decodeGoStdEncoding(secret.data[".dockerconfigjson"]).toString("utf8"));
}

const basicAuth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

interface Matrix {
  backend: Backend;
  auth: TestRegistryAuth;
}

const matrix: Matrix[] = backends.flatMap((backend) =>
  (["basic", "bearer"] as const).map((auth) => ({ backend, auth })),
);

describe.skipIf(skip).each(matrix)("private registry with $auth auth, app on $backend", ({ backend, auth }) => {
  const WS = `e2e-pull-${hex(4)}`;
  const OTHER_WS = `e2e-other-${hex(4)}`;
  const WRONG_PASSWORD = `wrong-${hex(12)}`;
  const log = new ExchangeLog();
  let PASSWORD = "";
  let NEW_PASSWORD = "";
  let work: string;
  let registry: TestRegistry;
  let app: TestApp;
  let pushedDigest: string;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  let provisionerTokenId: string;
  let otherProvisionerToken: string;
  let otherProvisionerTokenId: string;
  let workspaceToken: string;
  let workspaceTokenId: string;
  let registryId = "";
  let imageId = "";
  let missingTagImageId = "";
  /** Pull-credential calls by the provisioner token, in order, as the audit trail must show them. */
  const expectedEvents: Array<{ image_id: string; registry_id: string | null; outcome: string }> = [];
  let testStartedAt: Date;

  const reference = () => `${registry.host}/org/image:v1`;

  beforeAll(async () => {
    testStartedAt = new Date();
    work = mkdtempSync(join(tmpdir(), "modbox-e2e-pull-"));
    [registry, app] = await Promise.all([
      startTestRegistry({ auth, users: { [USER]: `initial-${hex(8)}` } }),
      startTestApp(backend),
    ]);
    PASSWORD = awkwardPassword("pw", registry.host);
    NEW_PASSWORD = awkwardPassword("rotated", registry.host);
    await registry.setPassword(USER, PASSWORD);
    pushedDigest = await pushImage(registry, "org/image:v1", { user: USER, password: PASSWORD });

    client = recordingClient(app.url, app.token, WS, log);
    const provisionerToken = await app.createToken({ workspaceIds: [WS], scope: "provisioner" });
    provisioner = recordingClient(app.url, provisionerToken, WS, log);
    provisionerTokenId = await tokenIdOf(app, provisionerToken);
    otherProvisionerToken = await app.createToken({ workspaceIds: [OTHER_WS], scope: "provisioner" });
    otherProvisionerTokenId = await tokenIdOf(app, otherProvisionerToken);
    workspaceToken = await app.createToken({ workspaceIds: [WS], scope: "workspace" });
    workspaceTokenId = await tokenIdOf(app, workspaceToken);
  });

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the registry refuses anonymous clients and the pushed digest is a manifest digest (controls)", async () => {
    expect((await getV2(registry.port, registry.caCertPem)).status).toBe(401);
    expect(pushedDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(provisionerTokenId).not.toBe(otherProvisionerTokenId);
  });

  it("verifies the right credentials with the registry's CA: verified, and the registry shows it", async () => {
    const created = await client.registries.create(credentialAt(registry, "private", PASSWORD));
    registryId = created.id;
    expect(created).toMatchObject({
      server: registry.host,
      username: USER,
      provider: "self_hosted",
      ca_certificate: registry.caCertPem,
      verification: { status: "unverified", checked_at: null, error_code: null },
      last_used_at: null,
    });
    expect(created).not.toHaveProperty("password");

    const before = Date.now();
    const verification = await client.registries.verify(registryId);
    expect(verification).toEqual({ status: "verified", checked_at: expect.stringMatching(ISO), error_code: null, detail: null });
    expect(Date.parse(verification.checked_at!)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(verification.checked_at!)).toBeLessThanOrEqual(Date.now());

    const stored = await client.registries.get(registryId);
    expect(stored.verification).toEqual({ status: "verified", checked_at: verification.checked_at, error_code: null, detail: null });

    // The login really happened against this registry, with the auth flow of its mode.
    await expect.poll(() => appAccessLog(registry.logPath).filter((l) => l.path === "/v2/" && l.status === 200).length).toBeGreaterThan(0);
    if (auth === "bearer") {
      expect(registry.tokenServer!.requests).toContainEqual(expect.objectContaining({ path: "/token", user: USER, status: 200 }));
    }

    // Verify on save with the right credentials: stored, and verified at once.
    const onSave = await client.registries.create(
      credentialAt(registry, "verified-on-save", PASSWORD),
      { verify: true },
    );
    expect(onSave.verification).toMatchObject({ status: "verified", checked_at: expect.stringMatching(ISO), error_code: null });
    await client.registries.delete(onSave.id);
  });

  it("a wrong password fails with invalid_credentials; verify on save refuses it with 422 and stores nothing", async () => {
    const wrong = await client.registries.create(credentialAt(registry, "wrong-password", WRONG_PASSWORD));
    const verification = await client.registries.verify(wrong.id);
    expect(verification).toMatchObject({ status: "failed", error_code: "invalid_credentials", checked_at: expect.stringMatching(ISO) });
    expect(verification.detail).toEqual(expect.any(String));
    expect((await client.registries.get(wrong.id)).verification).toMatchObject({ status: "failed", error_code: "invalid_credentials" });
    if (auth === "bearer") {
      expect(registry.tokenServer!.requests.at(-1)).toMatchObject({ user: USER, status: 401 });
    }
    await client.registries.delete(wrong.id);

    const refused = await rejectionOf(
      client.registries.create(
        credentialAt(registry, "refused-on-save", WRONG_PASSWORD),
        { verify: true },
      ),
      APIError,
    );
    expect(refused.status).toBe(422);
    expect(refused.code).toBe("invalid_credentials");
    const names = (await client.registries.list({ limit: 100 })).data.map((r) => r.name);
    expect(names).toContain("private");
    expect(names).not.toContain("refused-on-save");

    // Rotating to a wrong password with verify on save is refused too, and changes nothing.
    const rotation = await rejectionOf(client.registries.update(registryId, { password: WRONG_PASSWORD }, { verify: true }), APIError);
    expect(rotation.status).toBe(422);
    expect(rotation.code).toBe("invalid_credentials");
    expect((await client.registries.get(registryId)).verification.status).toBe("verified");
    expect(await client.registries.verify(registryId)).toMatchObject({ status: "verified" });
  });

  it("without the registry's CA: tls_error, for verification and for a pull check", async () => {
    const noCa = await client.registries.create({ name: "no-ca", server: registry.host, username: USER, password: PASSWORD });
    expect(noCa.ca_certificate).toBeNull();
    expect(await client.registries.verify(noCa.id)).toMatchObject({ status: "failed", error_code: "tls_error" });
    const image = await client.sandboxImages.create(pushedImageAt(registry, "no-ca-image", "v1", noCa.id));
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, digest: null, error_code: "tls_error" });
    await client.sandboxImages.delete(image.id);
    await client.registries.delete(noCa.id);
  });

  it("a linked image's pull check answers the digest skopeo reported at push; a missing tag is image_not_found", async () => {
    const image = await client.sandboxImages.create(pushedImageAt(registry, "private-image", "v1", registryId));
    imageId = image.id;
    expect(image).toMatchObject({ registry_id: registryId, registry_name: "private", reference: reference() });

    const check = await client.sandboxImages.pullCheck(imageId);
    expect(check).toEqual({
      image_id: imageId,
      reference: reference(),
      pullable: true,
      digest: pushedDigest,
      media_type: OCI_MANIFEST,
      error_code: null,
      detail: null,
      checked_at: expect.stringMatching(ISO),
    });
    await expect
      .poll(() => appAccessLog(registry.logPath).filter((l) => l.method === "HEAD" && l.path === "/v2/org/image/manifests/v1" && l.status === 200).length)
      .toBeGreaterThan(0);
    if (auth === "bearer") {
      expect(registry.tokenServer!.requests.at(-1)).toMatchObject({
        user: USER,
        status: 200,
        access: [{ type: "repository", name: "org/image", actions: ["pull"] }],
      });
    }

    const missingTag = await client.sandboxImages.create(pushedImageAt(registry, "missing-tag", "does-not-exist", registryId));
    missingTagImageId = missingTag.id;
    expect(await client.sandboxImages.pullCheck(missingTagImageId)).toMatchObject({
      pullable: false,
      digest: null,
      error_code: "image_not_found",
      reference: `${registry.host}/org/image:does-not-exist`,
    });

    // The registry's credentials are for its own host only.
    const mismatch = await rejectionOf(
      client.sandboxImages.create({ name: "elsewhere", image: "ghcr.io/org/image", tag: "v1", registry_id: registryId }),
      APIError,
    );
    expect(mismatch.status).toBe(422);
    expect(mismatch.code).toBe("registry_host_mismatch");
  });

  it("pull credentials pull with skopeo (config.json and the Kubernetes secret) and decode as Docker and Kubernetes do", async () => {
    const lastUsedBefore = (await client.registries.get(registryId)).last_used_at;
    expect(lastUsedBefore).toEqual(expect.stringMatching(ISO)); // the pull check used it
    const t0 = Date.now();
    const credentials = await provisioner.provisioning.pullCredentials(imageId);
    expectedEvents.push({ image_id: imageId, registry_id: registryId, outcome: "issued" });
    const exchange = log.last("/pull-credentials")!;
    expect(exchange.status).toBe(200);
    expect(exchange.headers).toContainEqual(["cache-control", "no-store"]);

    expect(credentials).toMatchObject({
      image_id: imageId,
      reference: reference(),
      registry: { id: registryId, name: "private", server: registry.host },
    });
    const runtime = credentials.auth!;
    expect(runtime.server).toBe(registry.host);
    expect(runtime.docker_config).toEqual({ auths: { [registry.host]: { auth: basicAuth(USER, PASSWORD) } } });

    // Docker Engine: the daemon decodes X-Registry-Auth with Go's base64.URLEncoding.
    expect(runtime.x_registry_auth).toMatch(/=$/); // this password's document needs padding
    expect(runtime.x_registry_auth).not.toMatch(/[+/]/);
    expect(dockerDaemonAuthConfig(runtime.x_registry_auth)).toEqual({ username: USER, password: PASSWORD, serveraddress: registry.host });

    // Kubernetes: a dockerconfigjson secret, `data` in standard base64.
    const secret = runtime.kubernetes_secret;
    expect(secret).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/dockerconfigjson" });
    expect(secret.metadata.name).toMatch(DNS_SUBDOMAIN);
    expect(Object.keys(secret.data)).toEqual([".dockerconfigjson"]);
    const kubeConfig = kubeletDockerConfig(secret);
    expect(kubeConfig).toEqual({ auths: { [registry.host]: { username: USER, password: PASSWORD, auth: basicAuth(USER, PASSWORD) } } });

    // A real pull with each document as skopeo's --authfile.
    const dockerConfigFile = join(work, "config.json");
    writeFileSync(dockerConfigFile, JSON.stringify(runtime.docker_config), { mode: 0o600 });
    registry.tokenServer?.resetCounters();
    const pulled = await copyWithAuthFile(reference(), dockerConfigFile, registry.certDir, join(work, "pulled-config"));
    expect(pulled.ok, pulled.stderr).toBe(true);
    expect(pulled.digest).toBe(pushedDigest);
    if (auth === "bearer") {
      expect(registry.tokenServer!.requests).toContainEqual(expect.objectContaining({ user: USER, status: 200 }));
    }

    const kubeConfigFile = join(work, "dockerconfigjson.json");
    writeFileSync(kubeConfigFile, JSON.stringify(kubeConfig), { mode: 0o600 });
    const pulledByKube = await copyWithAuthFile(reference(), kubeConfigFile, registry.certDir, join(work, "pulled-kube"));
    expect(pulledByKube.ok, pulledByKube.stderr).toBe(true);
    expect(pulledByKube.digest).toBe(pushedDigest);

    // The hand-out marks the registry used.
    const lastUsed = (await client.registries.get(registryId)).last_used_at!;
    expect(Date.parse(lastUsed)).toBeGreaterThanOrEqual(t0 - 1);
    expect(Date.parse(lastUsed)).toBeGreaterThan(Date.parse(lastUsedBefore!));
  });

  it("only a provisioner token granted this workspace gets pull credentials", async () => {
    const asWorkspaceToken = await rejectionOf(recordingClient(app.url, workspaceToken, WS, log).provisioning.pullCredentials(imageId), APIError);
    expect(asWorkspaceToken.status).toBe(403);
    expect(asWorkspaceToken.code).toBe("insufficient_scope");

    const asBootstrap = await rejectionOf(client.provisioning.pullCredentials(imageId), APIError);
    expect(asBootstrap.status).toBe(403);
    expect(asBootstrap.code).toBe("insufficient_scope");

    const other = recordingClient(app.url, otherProvisionerToken, WS, log);
    const foreign = await rejectionOf(other.provisioning.pullCredentials(imageId), APIError);
    expect(foreign.status).toBe(403);
    expect(foreign.code).toBe("workspace_forbidden");

    const fromOwnWorkspace = await rejectionOf(other.withWorkspace(OTHER_WS).provisioning.pullCredentials(imageId), APIError);
    expect(fromOwnWorkspace.status).toBe(404);
    expect(fromOwnWorkspace.code).toBe("not_found");

    // And the other way round: a provisioner token cannot use the workspace routes.
    const listing = await rejectionOf(provisioner.registries.list(), APIError);
    expect(listing.status).toBe(403);
    expect(listing.code).toBe("insufficient_scope");
  });

  it("a changed registry password makes the pull check fail with registry_auth_failed; rotating it with PUT fixes it", async () => {
    await registry.setPassword(USER, NEW_PASSWORD);
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({ pullable: false, digest: null, error_code: "registry_auth_failed" });
    expect(await client.registries.verify(registryId)).toMatchObject({ status: "failed", error_code: "invalid_credentials" });

    const rotated = await client.registries.update(registryId, { password: NEW_PASSWORD });
    // A proof about the old credential says nothing about the new one.
    expect(rotated.verification).toEqual({ status: "unverified", checked_at: null, error_code: null, detail: null });
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({ pullable: true, digest: pushedDigest, error_code: null });
    expect(await client.registries.verify(registryId)).toMatchObject({ status: "verified" });

    const credentials = await provisioner.provisioning.pullCredentials(imageId);
    expectedEvents.push({ image_id: imageId, registry_id: registryId, outcome: "issued" });
    expect(dockerDaemonAuthConfig(credentials.auth!.x_registry_auth)).toEqual({
      username: USER,
      password: NEW_PASSWORD,
      serveraddress: registry.host,
    });
  });

  it("a disabled registry is never used: registry_disabled everywhere, until re-enabled", async () => {
    expect((await client.registries.update(registryId, { enabled: false })).enabled).toBe(false);
    const linesBefore = appAccessLog(registry.logPath).length;

    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({ pullable: false, digest: null, error_code: "registry_disabled" });
    const credentials = await rejectionOf(provisioner.provisioning.pullCredentials(imageId), APIError);
    expectedEvents.push({ image_id: imageId, registry_id: registryId, outcome: "registry_disabled" });
    expect(credentials.status).toBe(409);
    expect(credentials.code).toBe("registry_disabled");
    const verification = await rejectionOf(client.registries.verify(registryId), APIError);
    expect(verification.status).toBe(409);
    expect(verification.code).toBe("registry_disabled");
    await sleep(200);
    expect(appAccessLog(registry.logPath).length).toBe(linesBefore); // the registry saw nothing

    expect((await client.registries.update(registryId, { enabled: true })).enabled).toBe(true);
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({ pullable: true, digest: pushedDigest });
  });

  it("delete: 409 registry_in_use with the linked images; forced: the images stay and every pull is registry_deleted", async () => {
    const inUse = await rejectionOf(client.registries.delete(registryId), APIError);
    expect(inUse.status).toBe(409);
    expect(inUse.code).toBe("registry_in_use");
    const problem = inUse.problem as { linked_image_ids?: string[]; linked_image_count?: number };
    expect([...(problem.linked_image_ids ?? [])].sort()).toEqual([imageId, missingTagImageId].sort());
    expect(problem.linked_image_count).toBe(2);
    expect((await client.registries.get(registryId)).id).toBe(registryId); // still there

    await expect(client.registries.delete(registryId, { force: true })).resolves.toBeUndefined();
    expect(log.last(`/registries/${registryId}`)).toMatchObject({ method: "DELETE", status: 204 });
    expect((await rejectionOf(client.registries.get(registryId), APIError)).status).toBe(404);
    expect((await client.registries.list({ limit: 100 })).data.map((r) => r.id)).not.toContain(registryId);

    const linesBefore = appAccessLog(registry.logPath).length;
    registry.tokenServer?.resetCounters();
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({
      pullable: false,
      digest: null,
      error_code: "registry_deleted",
    });
    const credentials = await rejectionOf(provisioner.provisioning.pullCredentials(imageId), APIError);
    expectedEvents.push({ image_id: imageId, registry_id: registryId, outcome: "registry_deleted" });
    expect(credentials.status).toBe(409);
    expect(credentials.code).toBe("registry_deleted");
    // Never an anonymous pull instead: nothing reached the registry or its token service.
    await sleep(200);
    expect(appAccessLog(registry.logPath).length).toBe(linesBefore);
    if (auth === "bearer") expect(registry.tokenServer!.requestCount).toBe(0);

    const image = await client.sandboxImages.get(imageId);
    expect(image).toMatchObject({ id: imageId, registry_id: registryId, registry_name: null, reference: reference() });
  });

  it("records every pull-credentials hand-out and refusal: token, image, registry, outcome, never the secret", async () => {
    const rows = rowsOf(await app.database.db.execute(sql`SELECT * FROM pull_credential_events WHERE workspace_id IN (${WS}, ${OTHER_WS}) ORDER BY created_at, id`));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(EVENT_COLUMNS);

    const byProvisioner = rows.filter((r) => r.token_id === provisionerTokenId);
    expect(byProvisioner.map((r) => ({ image_id: r.image_id, registry_id: r.registry_id, outcome: r.outcome }))).toEqual(expectedEvents);
    for (const row of byProvisioner) {
      expect(row.workspace_id).toBe(WS);
      const at = new Date(row.created_at as string | Date).getTime();
      expect(at).toBeGreaterThanOrEqual(testStartedAt.getTime() - 1000);
      expect(at).toBeLessThanOrEqual(Date.now());
    }

    const hits = findSecrets(
      rows.map((row, i) => ({ where: `pull_credential_events row ${i}`, text: JSON.stringify(row) })),
      [{ user: USER, secret: PASSWORD }, { user: USER, secret: NEW_PASSWORD }],
    );
    expect(hits).toEqual([]);
  });

  it("records the calls refused at the scope and workspace checks too (the spec: every call is recorded)", async () => {
    const rows = rowsOf(await app.database.db.execute(sql`SELECT token_id, workspace_id, image_id, outcome FROM pull_credential_events
          WHERE token_id IN (${workspaceTokenId}, ${otherProvisionerTokenId}, 'bootstrap') ORDER BY created_at, id`));
    expect(rows).toEqual([
      { token_id: workspaceTokenId, workspace_id: WS, image_id: imageId, outcome: "insufficient_scope" },
      { token_id: "bootstrap", workspace_id: WS, image_id: imageId, outcome: "insufficient_scope" },
      { token_id: otherProvisionerTokenId, workspace_id: WS, image_id: imageId, outcome: "workspace_forbidden" },
      { token_id: otherProvisionerTokenId, workspace_id: OTHER_WS, image_id: imageId, outcome: "not_found" },
    ]);
  });

  it("the password leaves the server only in pull-credentials answers: never in other responses or log lines", async () => {
    const secrets = [
      { user: USER, secret: PASSWORD },
      { user: USER, secret: NEW_PASSWORD },
      { user: USER, secret: WRONG_PASSWORD },
    ];
    const handedOut = log.exchanges.filter((e) => e.path.split("?")[0]!.endsWith("/pull-credentials") && e.status === 200);
    expect(handedOut).toHaveLength(2);
    // Control: the scanner does find the password where it is meant to be.
    expect(findSecrets([{ where: "pull-credentials", text: exchangeText(handedOut[0]!) }], secrets.slice(0, 1)).length).toBeGreaterThan(0);

    const others = log.exchanges.filter((e) => !handedOut.includes(e));
    expect(others.length).toBeGreaterThan(30);
    expect(app.logs.length).toBeGreaterThan(30);
    const hits = findSecrets(
      [
        ...others.map((e, i) => ({ where: `response #${i} ${e.method} ${e.path.replace(/[0-9a-f-]{36}/g, ":id")} ${e.status}`, text: exchangeText(e) })),
        ...app.logs.map((line, i) => ({ where: `log line #${i}`, text: line })),
      ],
      secrets,
    );
    expect(hits).toEqual([]);
  });
});

describe.skipIf(skip)("anonymous registry (auth: none), app on pglite", () => {
  const WS = `e2e-anon-${hex(4)}`;
  const PASSWORD = `anon-${hex(12)}`;
  const log = new ExchangeLog();
  let registry: TestRegistry;
  let app: TestApp;
  let pushedDigest: string;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  let provisionerTokenId: string;
  /**
   * The host's trust store: a public image has no registry, hence no per-registry CA, so its
   * check can only trust what the machine trusts (Node reads NODE_EXTRA_CA_CERTS at start only,
   * so the test CA is added to the real transport here instead, when `trustTestCa` is on).
   */
  let trustTestCa = false;
  const outbound: Array<{ url: string; method: string; authorization: boolean }> = [];

  beforeAll(async () => {
    registry = await startTestRegistry({ auth: "none" });
    pushedDigest = await pushImage(registry, "public/image:v1");
    app = await startTestApp("pglite", {
      outbound: {
        allowPrivate: true,
        timeoutMs: 5000,
        send: (request) => {
          outbound.push({
            url: String(request.url),
            method: request.method,
            authorization: Object.keys(request.headers ?? {}).some((h) => h.toLowerCase() === "authorization"),
          });
          const trusted = trustTestCa && request.caCertPem === undefined && new URL(request.url).host === registry.host;
          return outboundRequest(trusted ? { ...request, caCertPem: registry.caCertPem } : request);
        },
      },
    });
    client = recordingClient(app.url, app.token, WS, log);
    const token = await app.createToken({ workspaceIds: [WS], scope: "provisioner" });
    provisioner = recordingClient(app.url, token, WS, log);
    provisionerTokenId = await tokenIdOf(app, token);
  });

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
  });

  it("verify answers unverified / anonymous_registry: a credential cannot be proven there", async () => {
    expect((await getV2(registry.port, registry.caCertPem)).status).toBe(200);
    const created = await client.registries.create(credentialAt(registry, "anonymous", PASSWORD));
    const verification = await client.registries.verify(created.id);
    expect(verification).toMatchObject({ status: "unverified", error_code: "anonymous_registry", checked_at: expect.stringMatching(ISO) });
    expect((await client.registries.get(created.id)).verification).toMatchObject({
      status: "unverified",
      error_code: "anonymous_registry",
      checked_at: verification.checked_at,
    });
  });

  it("a public image (no registry) is checked anonymously and its pull credentials are auth: null", async () => {
    const image = await client.sandboxImages.create({ name: "public", image: `${registry.host}/public/image`, tag: "v1" });
    expect(image).toMatchObject({ registry_id: null, registry_name: null, reference: `${registry.host}/public/image:v1` });

    // Without the CA in the host's trust store, the self-signed registry cannot be trusted.
    expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, error_code: "tls_error" });

    trustTestCa = true;
    outbound.length = 0;
    try {
      expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({
        pullable: true,
        digest: pushedDigest,
        media_type: OCI_MANIFEST,
        error_code: null,
        reference: `${registry.host}/public/image:v1`,
      });
    } finally {
      trustTestCa = false;
    }
    expect(outbound.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(["GET /v2/", "HEAD /v2/public/image/manifests/v1"]);
    expect(outbound.every((r) => !r.authorization)).toBe(true);

    const credentials = await provisioner.provisioning.pullCredentials(image.id);
    expect(credentials).toEqual({ image_id: image.id, reference: `${registry.host}/public/image:v1`, registry: null, auth: null, expires_at: null });
    const events = rowsOf(await app.database.db.execute(sql`SELECT token_id, image_id, registry_id, outcome FROM pull_credential_events WHERE workspace_id = ${WS}`));
    expect(events).toEqual([{ token_id: provisionerTokenId, image_id: image.id, registry_id: null, outcome: "issued" }]);
  });

  it("the password is in no response and no log line", () => {
    const hits = findSecrets(
      [
        ...log.exchanges.map((e, i) => ({ where: `response #${i} ${e.method} ${e.status}`, text: exchangeText(e) })),
        ...app.logs.map((line, i) => ({ where: `log line #${i}`, text: line })),
      ],
      [{ user: USER, secret: PASSWORD }],
    );
    expect(log.exchanges.length).toBeGreaterThan(5);
    expect(hits).toEqual([]);
  });
});
