/**
 * Two organisations on one registry host, each with its own credential, end to end.
 *
 * A real private registry (Debian `docker-registry`, CNCF distribution 2.8, TLS on 127.0.0.1)
 * with Bearer token auth: the test's token server grants `acme-bot` the repositories `acme/*`
 * only and `other-bot` `other/*` only. (htpasswd auth cannot do this: distribution gives every
 * Basic user every repository, so only a token server can prove that the right user was picked.)
 * One image is pushed under each organisation. The app holds two registries on that one host,
 * `<host>/acme` and `<host>/other`, and skopeo pulls with the credentials each image's pull
 * credentials hand out: the `config.json` of each answer, then both Kubernetes secrets merged
 * into one auth file, whose `host/path` keys containers/image matches by namespace (longest
 * first), as the kubelet does. Merging the two `config.json` documents instead keeps one
 * credential per host: the image of the other organisation then fails, which is why each
 * answer is for its own pull.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModboxClient, PullCredentials } from "@modbox/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";
import { decodeGoStdEncoding } from "@modbox/testkit/exchanges";
import {
  buildOciLayout,
  copyWithAuthFile,
  inspectWithAuthFile,
  missingRegistryBinaries,
  pushImage,
  startTestRegistry,
  writeAuthFile,
  type TestRegistry,
} from "@modbox/testkit/registry";

const missing = missingRegistryBinaries();
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(
    `\n!! repository-prefixes e2e SKIPPED: missing ${missing.join(", ")} ` +
      "(Debian: apt-get install docker-registry skopeo apache2-utils openssl)\n",
  );
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** The auths of a `kubernetes.io/dockerconfigjson` secret, as the kubelet decodes them. */
function secretAuths(credentials: PullCredentials): Record<string, unknown> {
  const secret = credentials.auth!.kubernetes_secret;
  return (JSON.parse(decodeGoStdEncoding(secret.data[".dockerconfigjson"]).toString("utf8")) as { auths: Record<string, unknown> }).auths;
}

const ORGS = ["acme", "other"] as const;
type Org = (typeof ORGS)[number];

// One database is enough: what is proven here is the credential chosen, not storage.
const backend = backends[0]!;

describe.skipIf(skip)(`two organisations on one registry host, app on ${backend}`, () => {
  const WS = `e2e-prefix-${hex(4)}`;
  const passwords: Record<Org, string> = { acme: `acme-${hex(12)}`, other: `other-${hex(12)}` };
  const user = (org: Org) => `${org}-bot`;
  let work: string;
  let registry: TestRegistry;
  let app: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  const digests = {} as Record<Org, string>;
  const registryIds = {} as Record<Org, string>;
  const imageIds = {} as Record<Org, string>;
  const credentials = {} as Record<Org, PullCredentials>;
  const reference = (org: Org) => `${registry.host}/${org}/app:v1`;
  const authFile = (name: string, document: unknown) => {
    const path = join(work, `${name}.json`);
    writeFileSync(path, JSON.stringify(document), { mode: 0o600 });
    return path;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "modbox-e2e-prefix-"));
    [registry, app] = await Promise.all([
      startTestRegistry({ auth: "bearer", users: Object.fromEntries(ORGS.map((org) => [user(org), passwords[org]])) }),
      startTestApp(backend),
    ]);
    for (const org of ORGS) {
      registry.tokenServer!.setAccess(user(org), { repositories: [`${org}/*`] });
      // Each organisation's image has its own content, so a digest says whose image was pulled.
      const layout = buildOciLayout(join(work, `layout-${org}`), { tag: "v1", content: `the ${org} app\n` });
      digests[org] = await pushImage(registry, `${org}/app:v1`, { user: user(org), password: passwords[org], layout });
    }
    client = app.client(WS);
    provisioner = app.client(WS, await app.createToken({ workspaceIds: [WS], scope: "provisioner" }));
  });

  afterAll(async () => {
    await app?.close();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the registry itself gives each user its own organisation only (control)", async () => {
    for (const org of ORGS) {
      const own = writeAuthFile(join(work, `control-${org}.json`), registry.host, user(org), passwords[org]);
      expect((await inspectWithAuthFile(reference(org), own, registry.certDir)).digest).toBe(digests[org]);
      const stranger = ORGS.find((o) => o !== org)!;
      expect((await inspectWithAuthFile(reference(stranger), own, registry.certDir)).ok).toBe(false);
    }
    expect(digests.acme).not.toBe(digests.other);
  });

  it("two registries on the one host, each verified with its own user", async () => {
    for (const org of ORGS) {
      const created = await client.registries.create({
        name: `${org} on the test registry`,
        server: `https://${registry.host}/${org}`,
        username: user(org),
        password: passwords[org],
        ca_certificate: registry.caCertPem,
      });
      expect(created).toMatchObject({ server: `${registry.host}/${org}`, provider: "self_hosted" });
      registryIds[org] = created.id;
      expect((await client.registries.verify(created.id)).status).toBe("verified");
    }
    expect((await client.registries.list({ server: registry.host })).data.map((r) => r.server).sort()).toEqual([
      `${registry.host}/acme`,
      `${registry.host}/other`,
    ]);
  });

  it("each image links to the registry whose prefix covers it, and only to that one", async () => {
    for (const org of ORGS) {
      const image = await client.sandboxImages.create({ name: `${org} app`, image: `${registry.host}/${org}/app`, tag: "v1", registry_id: registryIds[org] });
      imageIds[org] = image.id;
      const stranger = ORGS.find((o) => o !== org)!;
      await expect(
        client.sandboxImages.create({ name: `${org} app, wrong registry`, image: `${registry.host}/${org}/app`, registry_id: registryIds[stranger] }),
      ).rejects.toMatchObject({ status: 422, code: "registry_host_mismatch" });
    }
  });

  it("pull checks pass with each registry's credential: the token server saw each user ask for its own repository", async () => {
    registry.tokenServer!.resetCounters();
    for (const org of ORGS) {
      const check = await client.sandboxImages.pullCheck(imageIds[org]);
      expect([check.pullable, check.digest]).toEqual([true, digests[org]]);
    }
    const granted = registry.tokenServer!.requests
      .filter((r) => r.status === 200 && r.access?.some((a) => a.type === "repository" && a.actions.includes("pull")))
      .map((r) => [r.user, r.access!.find((a) => a.type === "repository")!.name]);
    expect(granted).toEqual([
      ["acme-bot", "acme/app"],
      ["other-bot", "other/app"],
    ]);
  });

  it("each answer's config.json pulls its image with skopeo; it is keyed by the host, its secret by host/path", async () => {
    for (const org of ORGS) {
      credentials[org] = await provisioner.provisioning.pullCredentials(imageIds[org]);
      expect(credentials[org].registry?.server).toBe(`${registry.host}/${org}`);
      expect(Object.keys(credentials[org].auth!.docker_config.auths)).toEqual([registry.host]);
      expect(Object.keys(secretAuths(credentials[org]))).toEqual([`${registry.host}/${org}`]);
      const pulled = await copyWithAuthFile(reference(org), authFile(`config-${org}`, credentials[org].auth!.docker_config), registry.certDir, join(work, `pulled-${org}`));
      expect(pulled.ok, pulled.stderr).toBe(true);
      expect(pulled.digest).toBe(digests[org]);
    }
  });

  it("both Kubernetes secrets merged into one auth file: each image is pulled with its own organisation's user", async () => {
    const merged = authFile("secrets-merged", { auths: { ...secretAuths(credentials.acme), ...secretAuths(credentials.other) } });
    for (const org of ORGS) {
      const pulled = await copyWithAuthFile(reference(org), merged, registry.certDir, join(work, `pulled-merged-${org}`));
      expect(pulled.ok, pulled.stderr).toBe(true);
      expect(pulled.digest).toBe(digests[org]);
    }
  });

  it("two config.json documents merged keep one credential per host: the other organisation's image is then refused", async () => {
    const merged = authFile("configs-merged", { auths: { ...credentials.acme.auth!.docker_config.auths, ...credentials.other.auth!.docker_config.auths } });
    expect((await copyWithAuthFile(reference("other"), merged, registry.certDir, join(work, "merged-other"))).ok).toBe(true);
    expect((await copyWithAuthFile(reference("acme"), merged, registry.certDir, join(work, "merged-acme"))).ok).toBe(false);
  });
});
