/**
 * Proves the registry harness itself: a real distribution 2.8 registry (Basic and Bearer auth)
 * and skopeo, pushing with credentials and pulling with an auth file exactly as a provisioner
 * would. Skipped only locally when the binaries are missing; in CI (CI set) missing binaries fail.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildOciLayout,
  copyWithAuthFile,
  getV2,
  inspectWithAuthFile,
  isProcessAlive,
  missingRegistryBinaries,
  pushImage,
  startTestRegistry,
  writeAuthFile,
  type TestRegistry,
  type TestRegistryAuth,
} from "../src/registry/index.js";

const missing = missingRegistryBinaries();
const inCI = Boolean(process.env.CI);
const skip = missing.length > 0 && !inCI;
if (skip) {
  console.warn(
    `\n!! registry harness tests SKIPPED: missing ${missing.join(", ")} ` +
      "(Debian: apt-get install docker-registry skopeo apache2-utils openssl)\n",
  );
}

/** The manifest digest of the image pushImage builds for a tag (deterministic). */
function expectedDigest(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), "modbox-expected-"));
  try {
    return buildOciLayout(dir, { tag }).manifestDigest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function httpsGetJson(url: string, ca: string, authorization?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 3000, headers: authorization ? { authorization } : {} }, (res) => {
      let data = "";
      res.on("data", (d: Buffer) => (data += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe.skipIf(skip)("registry harness prerequisites", () => {
  it("has docker-registry, skopeo, htpasswd and openssl installed", () => {
    expect(missing, `missing binaries: ${missing.join(", ")}`).toEqual([]);
  });
});

describe.skipIf(skip).each(["basic", "bearer"] as TestRegistryAuth[])("test registry with %s auth", (auth) => {
  const user = "robot";
  const password = `s3cret-${auth}-${Math.random().toString(36).slice(2)}`;
  const newPassword = `n3w-${auth}-${Math.random().toString(36).slice(2)}`;
  let registry: TestRegistry;
  let work: string;
  let ref: string;
  let digest: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "modbox-harness-test-"));
    registry = await startTestRegistry({ auth, users: { [user]: password } });
    ref = `${registry.host}/org/image:v1`;
  });

  afterAll(async () => {
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("listens on 127.0.0.1 with TLS and challenges anonymous clients", async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const { status, wwwAuthenticate } = await getV2(registry.port, registry.caCertPem);
    expect(status).toBe(401);
    if (auth === "basic") expect(wwwAuthenticate).toMatch(/^Basic realm="test-realm"/);
    else expect(wwwAuthenticate).toBe(`Bearer realm="${registry.realm}",service="test-registry"`);
    // The CA is what makes it trusted: without it TLS verification fails.
    await expect(
      new Promise((resolve, reject) => request(`${registry.url}/v2/`, { agent: false }, resolve).on("error", reject).end()),
    ).rejects.toThrow(/self[- ]signed/i);
  });

  it("pushes with the right credentials; an auth file pulls the same digest", async () => {
    digest = await pushImage(registry, "org/image:v1", { user, password });
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digest).toBe(expectedDigest("v1")); // the registry kept the manifest byte for byte

    const good = writeAuthFile(join(work, "good.json"), registry.host, user, password);
    const result = await inspectWithAuthFile(ref, good, registry.certDir);
    expect(result.ok, result.stderr).toBe(true);
    expect(result.digest).toBe(digest);
    expect(JSON.parse(result.stdout).Name).toBe(`${registry.host}/org/image`);
  });

  it("fails with a wrong password in the auth file", async () => {
    const wrong = writeAuthFile(join(work, "wrong.json"), registry.host, user, "not-the-password");
    const result = await inspectWithAuthFile(ref, wrong, registry.certDir);
    expect(result.ok).toBe(false);
    expect(result.exitCode).toBe(1);
    if (auth === "basic") expect(result.stderr).toMatch(/unauthorized: authentication required/);
    else expect(result.stderr).toMatch(/unable to retrieve auth token: invalid username\/password: unauthorized/);
    expect(result.stderr).not.toContain("not-the-password");
  });

  it("throws on a failed push without leaking the password", async () => {
    const badPassword = `bad-${password}`;
    const error = await pushImage(registry, "org/image:v9", { user, password: badPassword }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/push of org\/image:v9 failed \(exit 1\)/);
    expect(message).toMatch(auth === "basic" ? /unauthorized/ : /unable to retrieve auth token/);
    expect(message).toContain("--dest-creds ***");
    expect(message).not.toContain(badPassword);
    expect(message).not.toContain(Buffer.from(`${user}:${badPassword}`).toString("base64"));
  });

  it("copyWithAuthFile pulls the image into an OCI layout", async () => {
    const good = join(work, "good.json");
    const dest = join(work, "pulled");
    const result = await copyWithAuthFile(ref, good, registry.certDir, dest);
    expect(result.ok, result.stderr).toBe(true);
    expect(result.digest).toBe(digest);
    // the layer really came over: it is our tar with hello.txt
    const manifest = JSON.parse(readFileSync(join(dest, "blobs", "sha256", digest.slice(7)), "utf8"));
    const layerDigest: string = manifest.layers[0].digest;
    const tar = gunzipSync(readFileSync(join(dest, "blobs", "sha256", layerDigest.slice(7))));
    expect(tar.subarray(0, 9).toString()).toBe("hello.txt");
    expect(tar.toString("latin1")).toContain("hello from modbox registries test image v1");
  });

  it("setPassword: the old auth file stops working, a new one works", async () => {
    const started = Date.now();
    await registry.setPassword(user, newPassword);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(5000);

    const old = await inspectWithAuthFile(ref, join(work, "good.json"), registry.certDir);
    expect(old.ok).toBe(false);
    expect(old.stderr).toMatch(auth === "basic" ? /unauthorized/ : /unable to retrieve auth token/);

    const fresh = writeAuthFile(join(work, "new.json"), registry.host, user, newPassword);
    const result = await inspectWithAuthFile(ref, fresh, registry.certDir);
    expect(result.ok, result.stderr).toBe(true);
    expect(result.digest).toBe(digest);
  });

  if (auth === "basic") {
    it("setPassword reloads the htpasswd file without restarting the registry", async () => {
      const pid = registry.pid;
      await registry.setPassword("second", "pw-2");
      expect(registry.pid).toBe(pid);
      expect((await getV2(registry.port, registry.caCertPem, basic("second", "pw-2"))).status).toBe(200);
      await registry.removeUser("second");
      expect((await getV2(registry.port, registry.caCertPem, basic("second", "pw-2"))).status).toBe(401);
      expect(registry.pid).toBe(pid);
    });

    it("restart() keeps port, storage and users", async () => {
      const pid = registry.pid!;
      await registry.restart();
      expect(registry.pid).not.toBe(pid);
      expect(isProcessAlive(pid)).toBe(false);
      const result = await inspectWithAuthFile(ref, join(work, "new.json"), registry.certDir);
      expect(result.ok, result.stderr).toBe(true);
      expect(result.digest).toBe(digest);
    });
  }

  if (auth === "bearer") {
    it("issues RS256 JWTs with x5c and only the requested, allowed access", async () => {
      const server = registry.tokenServer!;
      const before = server.requestCount;
      const scope = "repository:org/image:pull";
      const { status, body } = await httpsGetJson(
        `${registry.realm}?service=test-registry&scope=${encodeURIComponent(scope)}`,
        registry.caCertPem,
        basic(user, newPassword),
      );
      expect(status).toBe(200);
      expect(body.token).toBe(body.access_token);
      expect(body.expires_in).toBe(300);
      expect(Date.parse(body.issued_at)).not.toBeNaN();
      const [header, payload] = (body.token as string).split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
      expect(header).toMatchObject({ alg: "RS256", typ: "JWT" });
      expect(header.x5c).toHaveLength(1);
      expect(header.x5c[0]).toMatch(/^[A-Za-z0-9+/]+=*$/); // standard base64
      expect(payload).toMatchObject({
        iss: "test-issuer",
        aud: "test-registry",
        sub: user,
        access: [{ type: "repository", name: "org/image", actions: ["pull"] }],
      });
      expect(payload.exp - payload.iat).toBe(300);
      expect(server.requestCount).toBe(before + 1);

      expect((await httpsGetJson(`${registry.realm}?service=other`, registry.caCertPem, basic(user, newPassword))).status).toBe(400);
      expect((await httpsGetJson(registry.realm!, registry.caCertPem)).status).toBe(401);
    });

    it("grants nothing on repositories the user may not access", async () => {
      const server = registry.tokenServer!;
      server.setAccess(user, { repositories: ["other/*"] });
      try {
        const result = await inspectWithAuthFile(ref, join(work, "new.json"), registry.certDir);
        expect(result.ok).toBe(false);
        expect(result.stderr).toMatch(/unauthorized|denied/);
        const last = server.requests.at(-1)!;
        expect(last.status).toBe(200);
        expect(last.access).toEqual([{ type: "repository", name: "org/image", actions: [] }]);
      } finally {
        server.setAccess(user, undefined);
      }
      const again = await inspectWithAuthFile(ref, join(work, "new.json"), registry.certDir);
      expect(again.ok, again.stderr).toBe(true);
    });
  }

  it("stop() kills the registry process and removes its temp dir", async () => {
    const pid = registry.pid!;
    expect(isProcessAlive(pid)).toBe(true);
    await registry.stop();
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(registry.dir)).toBe(false);
    await registry.stop(); // idempotent
    if (registry.tokenServer) await expect(getV2(registry.tokenServer.port, registry.caCertPem)).rejects.toThrow();
  });
});

describe.skipIf(skip)("test registry without auth", () => {
  it("answers /v2/ with 200 and accepts an anonymous push", async () => {
    const registry = await startTestRegistry({ auth: "none" });
    try {
      expect((await getV2(registry.port, registry.caCertPem)).status).toBe(200);
      const digest = await pushImage(registry, "public/image:v1");
      expect(digest).toBe(expectedDigest("v1"));
      await expect(registry.setPassword("x", "y")).rejects.toThrow(/no auth/);
    } finally {
      await registry.stop();
    }
  });
});
