/**
 * A plain-HTTP registry, end to end against real components: Debian's `docker-registry` (CNCF
 * distribution 2.8) started without TLS, with Basic (htpasswd) auth, an image pushed with skopeo,
 * and the app on each database with `MODBOX_INSECURE_REGISTRIES` listing the registry's
 * `127.0.0.1:<port>`, driven through the SDK:
 * - the `http://` server is saved as written, verified on save over http, and warned
 *   `insecure_registry`; a wrong password is refused over http like over https;
 * - the pull check answers the digest skopeo reported at push;
 * - the provisioner's pull credentials say `insecure` and pull with skopeo given
 *   `--src-tls-verify=false`, the flag no credential format can carry (without it, skopeo tries
 *   https and fails: the control);
 * - an app without the list refuses the same server with 422, and the https spelling of the
 *   same host fails verification with `tls_error` (what `http://` silently became before).
 *
 * The `it`s of one describe run in order and build on each other (one registry, two apps).
 */
import { rejectionOf } from "@modbox/testkit/rejections";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";
import { decodeGoStdEncoding } from "@modbox/testkit/exchanges";
import { copyWithAuthFile, getV2, missingRegistryBinaries, pushImage, startTestRegistry, type TestRegistry } from "@modbox/testkit/registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseInsecureRegistries } from "../../src/registry-protocol/insecure-registries.js";

const missing = missingRegistryBinaries();
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(
    `\n!! insecure-registry e2e SKIPPED: missing ${missing.join(", ")} ` +
      "(Debian: apt-get install docker-registry skopeo apache2-utils openssl)\n",
  );
}

const USER = "robot";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const hex = (bytes: number) => randomBytes(bytes).toString("hex");

describe.skipIf(skip).each(backends)("a plain-HTTP registry listed in MODBOX_INSECURE_REGISTRIES, app on %s", (backend) => {
  const WS = `e2e-insecure-${hex(4)}`;
  const PASSWORD = `pw-${hex(12)}`;
  let work: string;
  let registry: TestRegistry;
  let listed: TestApp;
  let unlisted: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  let pushedDigest: string;
  let registryId = "";
  let imageId = "";

  const server = () => `http://${registry.host}`;
  const reference = () => `${registry.host}/org/image:v1`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "modbox-e2e-insecure-"));
    registry = await startTestRegistry({ auth: "basic", tls: false, users: { [USER]: PASSWORD } });
    const insecure = parseInsecureRegistries(registry.host);
    if (!insecure.ok) throw new Error(insecure.errors.join("; "));
    [listed, unlisted] = await Promise.all([
      startTestApp(backend, { outbound: { allowPrivate: true, timeoutMs: 5000, insecureRegistries: insecure.registries } }),
      startTestApp(backend),
    ]);
    pushedDigest = await pushImage(registry, "org/image:v1", { user: USER, password: PASSWORD });
    client = listed.client(WS);
    provisioner = listed.client(WS, await listed.createToken({ workspaceIds: [WS], scope: "provisioner" }));
  });

  afterAll(async () => {
    await Promise.all([listed?.close(), unlisted?.close()]);
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the registry speaks plain HTTP only, and refuses anonymous clients (controls)", async () => {
    expect(registry).toMatchObject({ tls: false, url: `http://${registry.host}` });
    expect((await getV2(registry.port, null)).status).toBe(401);
    await expect(getV2(registry.port, registry.caCertPem)).rejects.toThrow();
    expect(pushedDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("verify on save succeeds over http; the server is stored as written, with the insecure_registry warning", async () => {
    const created = await client.registries.create(
      { name: "plain", server: `HTTP://${registry.host}/v2/`, username: USER, password: PASSWORD },
      { verify: true },
    );
    registryId = created.id;
    expect(created).toMatchObject({
      server: server(),
      provider: "self_hosted",
      verification: { status: "verified", checked_at: expect.stringMatching(ISO), error_code: null, detail: null },
      warnings: [{ code: "insecure_registry", field: "server", message: expect.stringMatching(/plain HTTP/) }],
    });
    expect(await client.registries.get(registryId)).toEqual(created);
    expect(await client.registries.verify(registryId)).toMatchObject({ status: "verified", error_code: null, detail: null });
  });

  it("a wrong password is refused over http as over https: 422 invalid_credentials on save, nothing stored", async () => {
    const refused = await rejectionOf(
      client.registries.create({ name: "wrong", server: server(), username: USER, password: `wrong-${hex(8)}` }, { verify: true }),
      APIError,
    );
    expect([refused.status, refused.code]).toEqual([422, "invalid_credentials"]);
    expect((await client.registries.list({ server: server() })).data.map((r) => r.id)).toEqual([registryId]);
  });

  it("the pull check answers the digest skopeo reported at push", async () => {
    const image = await client.sandboxImages.create({ name: "app", image: `${registry.host}/org/image`, tag: "v1", registry_id: registryId });
    imageId = image.id;
    expect(await client.sandboxImages.pullCheck(imageId)).toMatchObject({
      reference: reference(),
      pullable: true,
      digest: pushedDigest,
      error_code: null,
      detail: null,
    });
  });

  it("the pull credentials say insecure, and skopeo pulls with them given --src-tls-verify=false (and not without it)", async () => {
    const credentials = await provisioner.provisioning.pullCredentials(imageId);
    expect(credentials).toMatchObject({
      reference: reference(),
      registry: { id: registryId, name: "plain", server: server(), insecure: true },
    });
    const runtime = credentials.auth!;
    expect(runtime.server).toBe(registry.host);
    expect(Object.keys(runtime.docker_config.auths)).toEqual([registry.host]);

    const dockerConfigFile = join(work, "config.json");
    writeFileSync(dockerConfigFile, JSON.stringify(runtime.docker_config), { mode: 0o600 });
    const pulled = await copyWithAuthFile(reference(), dockerConfigFile, registry.certDir, join(work, "pulled-config"), { tlsVerify: false });
    expect(pulled.ok, pulled.stderr).toBe(true);
    expect(pulled.digest).toBe(pushedDigest);

    // The Kubernetes secret's document pulls the same way.
    const kubeConfigFile = join(work, "kube.json");
    writeFileSync(kubeConfigFile, decodeGoStdEncoding(runtime.kubernetes_secret.data[".dockerconfigjson"]), { mode: 0o600 });
    const fromSecret = await copyWithAuthFile(reference(), kubeConfigFile, registry.certDir, join(work, "pulled-secret"), { tlsVerify: false });
    expect(fromSecret.ok, fromSecret.stderr).toBe(true);
    expect(fromSecret.digest).toBe(pushedDigest);

    // Control: the same credentials, a runtime left to its https default, cannot pull.
    const strict = await copyWithAuthFile(reference(), dockerConfigFile, registry.certDir, join(work, "pulled-strict"));
    expect(strict.ok).toBe(false);
    expect(strict.stderr).toMatch(/server gave HTTP response to HTTPS client/);
  });

  it("without MODBOX_INSECURE_REGISTRIES the same server is refused with 422, nothing stored", async () => {
    const other = unlisted.client(WS);
    const refused = await rejectionOf(other.registries.create({ name: "plain", server: server(), username: USER, password: PASSWORD }, { verify: true }), APIError);
    expect([refused.status, refused.code]).toEqual([422, "validation_failed"]);
    expect(refused.problem?.errors).toEqual([
      { path: "/body/server", message: expect.stringMatching(/^credentials are sent over HTTPS only: .*MODBOX_INSECURE_REGISTRIES/) },
    ]);
    expect((await other.registries.list()).data).toEqual([]);
  });

  it("the https spelling of the same host is another registry: its verification fails on TLS, as http:// silently did before", async () => {
    const https = await client.registries.create({ name: "https", server: registry.host, username: USER, password: PASSWORD }, { verify: true });
    expect(https).toMatchObject({ server: registry.host, warnings: [] });
    expect(https.verification).toMatchObject({ status: "failed", error_code: "tls_error", detail: expect.any(String) });
  });
});
