/**
 * Protocol-level tests of verifyLogin and checkPull against real HTTPS servers on 127.0.0.1
 * (allowPrivate: true): a Basic registry, a Bearer registry with its token service on another
 * "host", an anonymous one, and misbehaving ones. The end-to-end run against CNCF distribution
 * and skopeo lives under packages/server/test/e2e.
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  basic,
  fakeLookup,
  json,
  makeCertificate,
  registryHandler,
  startHttpServer,
  startHttpsServer,
  startTcpServer,
  tokenHandler,
  type Manifest,
  type RegistryDoubleOptions,
  type TestCertificate,
  type TestServer,
  type TokenStore,
} from "@modbox/testkit/outbound";
import { parseInsecureRegistries, type InsecureRegistries } from "../insecure-registries.js";
import { OutboundError } from "./errors.js";
import type { OutboundRequest, Send } from "./http.js";
import type { OutboundOptions, RegistryEndpoint } from "./types.js";
import { MANIFEST_ACCEPT, checkPull, verifyLogin } from "./v2-client.js";

const USERNAME = "robot";
/** A canary: it must never appear in a result. */
const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
const GOOD = { username: USERNAME, password: PASSWORD };
const BAD = { username: USERNAME, password: `${PASSWORD}-wrong` };

const lookup = fakeLookup({
  "registry.test": ["127.0.0.1"],
  "auth.test": ["127.0.0.1"],
  "metadata.test": ["169.254.169.254"],
});

function manifest(body: object, mediaType: string): Manifest {
  const text = JSON.stringify(body);
  return { body: text, mediaType, digest: `sha256:${createHash("sha256").update(text).digest("hex")}` };
}

const APP = manifest(
  { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: {}, layers: [] },
  "application/vnd.oci.image.manifest.v1+json",
);
const PUBLIC = manifest(
  { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] },
  "application/vnd.oci.image.index.v1+json",
);
const MANIFESTS = new Map<string, Manifest>([
  ["org/app:v1", APP],
  [`org/app@${APP.digest}`, APP],
  ["public/app:latest", PUBLIC],
]);

let tls: TestCertificate;
const servers: TestServer[] = [];
const tokens: TokenStore = new Map();
let tokenServer: TestServer;
const ports: Record<string, number> = {};

async function start(name: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = await startHttpsServer(tls, handler);
  servers.push(server);
  ports[name] = server.port;
  return server;
}

/** A plain-HTTP server (a registry or token service on the operator's insecure list). */
async function startPlain(name: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = await startHttpServer(handler);
  servers.push(server);
  ports[name] = server.port;
  return server;
}

async function startRegistry(name: string, options: RegistryDoubleOptions): Promise<TestServer> {
  return start(name, registryHandler({ manifests: MANIFESTS, username: USERNAME, password: PASSWORD, tokens, ...options }));
}

function streamTenMegabytes(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.on("error", () => undefined);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < 10 * 1024 * 1024) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    res.end();
  };
  pump();
}

beforeAll(async () => {
  tls = makeCertificate();
  const tokenOptions = { username: USERNAME, password: PASSWORD, service: "test-registry", tokens, publicRepositories: ["public/app"] };
  tokenServer = await start("token", tokenHandler(tokenOptions));
  await start("tokenAccess", tokenHandler({ ...tokenOptions, field: "access_token" }));
  await start("tokenHuge", (_req, res) => streamTenMegabytes(res));
  await start("tokenNotJson", (_req, res) => res.end("<html>oops</html>"));
  const realm = (name: string) => `https://auth.test:${ports[name]}/token`;

  await startRegistry("basic", { auth: "basic" });
  await startRegistry("basicNoDigest", { auth: "basic", omitDigest: true });
  await startRegistry("bearer", { auth: "bearer", realm: realm("token") });
  await startRegistry("bearerAccess", { auth: "bearer", realm: realm("tokenAccess") });
  await startRegistry("bearerHuge", { auth: "bearer", realm: realm("tokenHuge") });
  await startRegistry("bearerNotJson", { auth: "bearer", realm: realm("tokenNotJson") });
  await startRegistry("bearerHttpRealm", { auth: "bearer", realm: `http://auth.test:${ports.token}/token` });
  await startRegistry("bearerMetadataRealm", { auth: "bearer", realm: "https://metadata.test/latest/api/token" });
  await startRegistry("bearerLoopbackV6Realm", { auth: "bearer", realm: "https://[fe80::1]/token" });
  await startRegistry("anonymous", { auth: "anonymous" });
  await startRegistry("negotiate", { auth: { challenge: "Negotiate" } });
  await startRegistry("noChallenge", { auth: { challenge: null } });
  await startRegistry("malformed", { auth: { challenge: 'Bearer realm="https://auth.test/token' } });
  await start("notRegistry", (_req, res) => json(res, 404, { message: "nothing here" }));
  await start("broken", (_req, res) => json(res, 503, { errors: [{ code: "UNAVAILABLE", message: `detail ${PASSWORD}` }] }));
  await start("hang", () => undefined);
  // ECR Public: 400 (not 401) for a bearer token it no longer accepts.
  await start("ecrPublic", (req, res) => {
    if (req.url === "/v2/") {
      return json(res, 401, { errors: [{ code: "UNAUTHORIZED" }] }, {
        "www-authenticate": `Bearer realm="https://auth.test:${ports.token}/token",service="test-registry"`,
      });
    }
    json(res, 400, { errors: [{ code: "DENIED", message: "Your authorization token has expired." }] });
  });
  // /v2/ open to all, repositories behind Basic (some Harbor/Nexus set-ups).
  await start("openPing", (req, res) => {
    if (req.url === "/v2/") return json(res, 200, {});
    registryHandler({ auth: "basic", username: USERNAME, password: PASSWORD, manifests: MANIFESTS })(req, res);
  });

  const registryOptions = { manifests: MANIFESTS, username: USERNAME, password: PASSWORD, tokens };
  await startPlain("plainBasic", registryHandler({ ...registryOptions, auth: "basic" }));
  await startPlain("plainToken", tokenHandler(tokenOptions));
  await startPlain("plainBearer", registryHandler({ ...registryOptions, auth: "bearer", realm: `http://auth.test:${ports.plainToken}/token` }));

  const blackhole = await startTcpServer({ hang: true });
  servers.push(blackhole);
  ports.blackhole = blackhole.port;
  const closed = await startTcpServer({ hang: false });
  servers.push(closed);
  ports.closed = closed.port;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

function endpoint(name: string, withCa = true): RegistryEndpoint {
  return { host: `registry.test:${ports[name]}`, ...(withCa ? { caCertPem: tls.cert } : {}) };
}

const OPTIONS: OutboundOptions = { allowPrivate: true, timeoutMs: 3000, lookup };

function expectNoSecret(result: unknown): void {
  const text = JSON.stringify(result);
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64"));
  for (const token of tokens.keys()) expect(text).not.toContain(token);
}

function server(name: string): TestServer {
  const found = servers.find((s) => s.port === ports[name]);
  if (found === undefined) throw new Error(`no server ${name}`);
  return found;
}

describe("verifyLogin", () => {
  it("Basic: verified with the right password, after an anonymous ping", async () => {
    const before = server("basic").requests.length;
    await expect(verifyLogin(endpoint("basic"), GOOD, OPTIONS)).resolves.toEqual({ status: "verified" });
    expect(server("basic").requests.slice(before).map((r) => [r.method, r.url, r.authorization])).toEqual([
      ["GET", "/v2/", undefined],
      ["GET", "/v2/", basic(USERNAME, PASSWORD)],
    ]);
  });

  it("Basic: invalid_credentials with a wrong password, naming only the registry's error code", async () => {
    const result = await verifyLogin(endpoint("basic"), BAD, OPTIONS);
    expect(result).toEqual({
      status: "failed",
      code: "invalid_credentials",
      detail: `registry.test:${ports.basic}: the registry refused the credentials (GET /v2/ answered 401 (UNAUTHORIZED))`,
    });
    expectNoSecret(result);
  });

  it("Bearer: verified through a token service on another host; the registry only sees the token", async () => {
    const before = { registry: server("bearer").requests.length, token: tokenServer.requests.length };
    const result = await verifyLogin(endpoint("bearer"), GOOD, OPTIONS);
    expect(result).toEqual({ status: "verified" });
    expectNoSecret(result);
    const tokenRequests = tokenServer.requests.slice(before.token);
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]).toMatchObject({
      host: `auth.test:${ports.token}`,
      servername: "auth.test",
      authorization: basic(USERNAME, PASSWORD),
    });
    expect(new URL(tokenRequests[0]?.url ?? "", "https://x").searchParams.get("service")).toBe("test-registry");
    const registryAuth = server("bearer").requests.slice(before.registry).map((r) => r.authorization);
    expect(registryAuth).toEqual([undefined, expect.stringMatching(/^Bearer /)]);
  });

  it("Bearer: accepts access_token instead of token", async () => {
    await expect(verifyLogin(endpoint("bearerAccess"), GOOD, OPTIONS)).resolves.toEqual({ status: "verified" });
  });

  it("Bearer: invalid_credentials when the token service refuses them", async () => {
    const result = await verifyLogin(endpoint("bearer"), BAD, OPTIONS);
    expect(result).toEqual({
      status: "failed",
      code: "invalid_credentials",
      detail: `the token service at auth.test:${ports.token} refused the credentials (401)`,
    });
    expectNoSecret(result);
  });

  it("anonymous registry: unverified, no credentials sent", async () => {
    const before = server("anonymous").requests.length;
    await expect(verifyLogin(endpoint("anonymous"), GOOD, OPTIONS)).resolves.toEqual({
      status: "unverified",
      reason: "anonymous_registry",
    });
    expect(server("anonymous").requests.slice(before).map((r) => r.authorization)).toEqual([undefined]);
  });

  it.each([
    ["negotiate", 'authentication scheme "negotiate" is not supported'],
    ["noChallenge", "401 without a WWW-Authenticate challenge"],
    ["malformed", "the WWW-Authenticate challenge is malformed"],
  ])("unsupported_auth: %s", async (name, detail) => {
    const before = server(name).requests.length;
    const result = await verifyLogin(endpoint(name), GOOD, OPTIONS);
    expect(result).toEqual({ status: "failed", code: "unsupported_auth", detail: `registry.test:${ports[name]}: ${detail}` });
    expect(server(name).requests.slice(before).map((r) => r.authorization)).toEqual([undefined]);
  });

  it("registry_unreachable when /v2/ is not an API v2 endpoint; registry_error on 5xx", async () => {
    await expect(verifyLogin(endpoint("notRegistry"), GOOD, OPTIONS)).resolves.toMatchObject({
      status: "failed",
      code: "registry_unreachable",
      detail: expect.stringContaining("GET /v2/ answered 404"),
    });
    const broken = await verifyLogin(endpoint("broken"), GOOD, OPTIONS);
    expect(broken).toMatchObject({ code: "registry_error", detail: expect.stringContaining("503 (UNAVAILABLE)") });
    expectNoSecret(broken);
  });

  it("tls_error when the registry's certificate is not trusted (no CA configured)", async () => {
    const before = server("basic").requests.length;
    await expect(verifyLogin(endpoint("basic", false), GOOD, OPTIONS)).resolves.toMatchObject({
      status: "failed",
      code: "tls_error",
      detail: expect.stringContaining("self-signed"),
    });
    expect(server("basic").requests.length).toBe(before);
  });

  it("registry_unreachable on a timeout (300 ms), during the handshake or waiting for the answer", async () => {
    for (const host of [`127.0.0.1:${ports.blackhole}`, `registry.test:${ports.hang}`]) {
      const started = Date.now();
      const result = await verifyLogin({ host, caCertPem: tls.cert }, GOOD, { ...OPTIONS, timeoutMs: 300 });
      expect(result).toMatchObject({ status: "failed", code: "registry_unreachable", detail: expect.stringContaining("300 ms") });
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it("registry_unreachable when the connection is refused or closed", async () => {
    await expect(verifyLogin({ host: `127.0.0.1:${ports.closed}` }, GOOD, OPTIONS)).resolves.toMatchObject({
      code: "registry_unreachable",
    });
  });

  it("registry_error when the token service streams 10 MB (bounded read)", async () => {
    const started = Date.now();
    const result = await verifyLogin(endpoint("bearerHuge"), GOOD, OPTIONS);
    expect(result).toMatchObject({
      status: "failed",
      code: "registry_error",
      detail: `the token service at auth.test:${ports.tokenHuge}: the response body exceeds 1048576 bytes`,
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("registry_error when the token answer is not JSON, without echoing it", async () => {
    const result = await verifyLogin(endpoint("bearerNotJson"), GOOD, OPTIONS);
    expect(result).toMatchObject({ code: "registry_error", detail: expect.stringContaining("without a JSON body") });
    expect(JSON.stringify(result)).not.toContain("oops");
  });

  it("insecure_realm for an http realm; nothing reaches the token service", async () => {
    const before = tokenServer.connections();
    const result = await verifyLogin(endpoint("bearerHttpRealm"), GOOD, OPTIONS);
    expect(result).toMatchObject({ status: "failed", code: "insecure_realm" });
    expect(tokenServer.connections()).toBe(before);
  });

  it("address_not_allowed for a realm on a metadata or link-local address, even with allowPrivate", async () => {
    for (const name of ["bearerMetadataRealm", "bearerLoopbackV6Realm"]) {
      const result = await verifyLogin(endpoint(name), GOOD, OPTIONS);
      expect(result, name).toMatchObject({ status: "failed", code: "address_not_allowed" });
      expectNoSecret(result);
    }
  });

  it("throws a TypeError for an endpoint host that is not host[:port]", async () => {
    for (const host of ["https://registry.test", "registry.test/v2", "robot:pw@registry.test", "", "a b"]) {
      await expect(verifyLogin({ host }, GOOD, OPTIONS), host).rejects.toThrow(TypeError);
    }
  });
});

describe("checkPull", () => {
  it("Basic: 200 with the Docker-Content-Digest and the media type, via HEAD", async () => {
    const before = server("basic").requests.length;
    const result = await checkPull(endpoint("basic"), "org/app", "v1", GOOD, OPTIONS);
    expect(result).toEqual({ ok: true, digest: APP.digest, mediaType: APP.mediaType });
    expect(server("basic").requests.slice(before).map((r) => [r.method, r.url])).toEqual([
      ["GET", "/v2/"],
      ["HEAD", "/v2/org/app/manifests/v1"],
    ]);
  });

  it("sends the four manifest media types in Accept", async () => {
    const seen: string[] = [];
    const probe = await start("acceptProbe", (req, res) => {
      if (req.url === "/v2/") return json(res, 200, {});
      seen.push(req.headers.accept ?? "");
      registryHandler({ auth: "anonymous", manifests: MANIFESTS })(req, res);
    });
    await checkPull(endpoint("acceptProbe"), "org/app", "v1", null, OPTIONS);
    expect(probe.requests.length).toBe(2);
    expect(seen).toEqual([MANIFEST_ACCEPT]);
    expect(MANIFEST_ACCEPT.split(", ").sort()).toEqual([
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.oci.image.manifest.v1+json",
    ]);
  });

  it("by digest", async () => {
    await expect(checkPull(endpoint("basic"), "org/app", APP.digest, GOOD, OPTIONS)).resolves.toEqual({
      ok: true,
      digest: APP.digest,
      mediaType: APP.mediaType,
    });
  });

  it("without a digest header: GET (bounded) and hash the manifest", async () => {
    const before = server("basicNoDigest").requests.length;
    await expect(checkPull(endpoint("basicNoDigest"), "org/app", "v1", GOOD, OPTIONS)).resolves.toEqual({
      ok: true,
      digest: APP.digest,
      mediaType: APP.mediaType,
    });
    expect(server("basicNoDigest").requests.slice(before).map((r) => r.method)).toEqual(["GET", "HEAD", "GET"]);
  });

  it("image_not_found on 404", async () => {
    await expect(checkPull(endpoint("basic"), "org/missing", "v1", GOOD, OPTIONS)).resolves.toEqual({
      ok: false,
      code: "image_not_found",
      detail: `registry.test:${ports.basic}: org/missing:v1 was not found`,
    });
  });

  it("registry_auth_failed on 401 with wrong credentials, or none where Basic is required", async () => {
    const wrong = await checkPull(endpoint("basic"), "org/app", "v1", BAD, OPTIONS);
    expect(wrong).toMatchObject({ ok: false, code: "registry_auth_failed", detail: expect.stringContaining("refused (401)") });
    expectNoSecret(wrong);
    await expect(checkPull(endpoint("basic"), "org/app", "v1", null, OPTIONS)).resolves.toMatchObject({
      ok: false,
      code: "registry_auth_failed",
      detail: `registry.test:${ports.basic}: the registry requires credentials`,
    });
  });

  it("Bearer: asks the realm for repository:<name>:pull and HEADs with the token", async () => {
    const before = tokenServer.requests.length;
    const result = await checkPull(endpoint("bearer"), "org/app", "v1", GOOD, OPTIONS);
    expect(result).toEqual({ ok: true, digest: APP.digest, mediaType: APP.mediaType });
    const [tokenRequest] = tokenServer.requests.slice(before);
    expect(new URL(tokenRequest?.url ?? "", "https://x").searchParams.getAll("scope")).toEqual(["repository:org/app:pull"]);
  });

  it("Bearer: anonymous pull of a public image; a private one is registry_auth_failed", async () => {
    await expect(checkPull(endpoint("bearer"), "public/app", "latest", null, OPTIONS)).resolves.toEqual({
      ok: true,
      digest: PUBLIC.digest,
      mediaType: PUBLIC.mediaType,
    });
    await expect(checkPull(endpoint("bearer"), "org/app", "v1", null, OPTIONS)).resolves.toMatchObject({
      ok: false,
      code: "registry_auth_failed",
      detail: `the token service at auth.test:${ports.token} requires credentials (401)`,
    });
    await expect(checkPull(endpoint("bearer"), "org/app", "v1", BAD, OPTIONS)).resolves.toMatchObject({
      code: "registry_auth_failed",
    });
  });

  it("anonymous registry: no credentials needed or sent", async () => {
    const before = server("anonymous").requests.length;
    await expect(checkPull(endpoint("anonymous"), "org/app", "v1", GOOD, OPTIONS)).resolves.toMatchObject({ ok: true });
    expect(server("anonymous").requests.slice(before).every((r) => r.authorization === undefined)).toBe(true);
  });

  it("answers a repository's own challenge when /v2/ is open", async () => {
    await expect(checkPull(endpoint("openPing"), "org/app", "v1", GOOD, OPTIONS)).resolves.toMatchObject({
      ok: true,
      digest: APP.digest,
    });
  });

  it("ECR Public quirk: 400 on a bearer token is registry_auth_failed", async () => {
    await expect(checkPull(endpoint("ecrPublic"), "org/app", "v1", GOOD, OPTIONS)).resolves.toMatchObject({
      ok: false,
      code: "registry_auth_failed",
      detail: expect.stringContaining("refused (400)"), // HEAD: no body, so no error code
    });
  });

  it("maps transport failures like verifyLogin", async () => {
    await expect(checkPull(endpoint("basic", false), "org/app", "v1", GOOD, OPTIONS)).resolves.toMatchObject({ code: "tls_error" });
    await expect(
      checkPull({ host: `127.0.0.1:${ports.blackhole}` }, "org/app", "v1", GOOD, { ...OPTIONS, timeoutMs: 300 }),
    ).resolves.toMatchObject({ code: "registry_unreachable" });
    await expect(checkPull(endpoint("basic"), "org/app", "v1", GOOD, { ...OPTIONS, allowPrivate: false })).resolves.toMatchObject({
      code: "address_not_allowed",
    });
  });

  it("throws a TypeError for a malformed repository or reference", async () => {
    for (const [repository, reference] of [
      ["../admin", "v1"],
      ["Org/App", "v1"],
      ["org/app", "../../x"],
      ["org/app", "sha256:short"],
      ["org//app", "v1"],
      ["org/app?x=1", "v1"],
    ] as const) {
      await expect(checkPull(endpoint("basic"), repository, reference, GOOD, OPTIONS)).rejects.toThrow(TypeError);
    }
  });
});

describe("plain-HTTP registries (the operator's MODBOX_INSECURE_REGISTRIES)", () => {
  function insecure(...names: string[]): InsecureRegistries {
    const parsed = parseInsecureRegistries(names.map((name) => `${name === "plainToken" ? "auth.test" : "registry.test"}:${ports[name]}`).join(","));
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    return parsed.registries;
  }
  const plainEndpoint = (name: string): RegistryEndpoint => ({ host: `registry.test:${ports[name]}`, scheme: "http" });

  it("Basic over http: verified, and a pull checked, when the host is listed", async () => {
    const options = { ...OPTIONS, insecureRegistries: insecure("plainBasic") };
    const before = server("plainBasic").requests.length;
    await expect(verifyLogin(plainEndpoint("plainBasic"), GOOD, options)).resolves.toEqual({ status: "verified" });
    expect(await verifyLogin(plainEndpoint("plainBasic"), BAD, options)).toMatchObject({ status: "failed", code: "invalid_credentials" });
    await expect(checkPull(plainEndpoint("plainBasic"), "org/app", "v1", GOOD, options)).resolves.toEqual({
      ok: true,
      digest: APP.digest,
      mediaType: APP.mediaType,
    });
    expect(server("plainBasic").requests.slice(before, before + 2).map((r) => [r.method, r.url, r.authorization])).toEqual([
      ["GET", "/v2/", undefined],
      ["GET", "/v2/", basic(USERNAME, PASSWORD)],
    ]);
  });

  it("an http registry whose host is not (or no longer) listed: address_not_allowed naming the switch, nothing sent", async () => {
    for (const options of [OPTIONS, { ...OPTIONS, insecureRegistries: insecure("plainBearer") }]) {
      const before = server("plainBasic").connections();
      const verified = await verifyLogin(plainEndpoint("plainBasic"), GOOD, options);
      expect(verified).toEqual({
        status: "failed",
        code: "address_not_allowed",
        detail: `registry.test:${ports.plainBasic}: plain HTTP to this registry is not allowed; the operator must list it in MODBOX_INSECURE_REGISTRIES`,
      });
      await expect(checkPull(plainEndpoint("plainBasic"), "org/app", "v1", GOOD, options)).resolves.toMatchObject({
        ok: false,
        code: "address_not_allowed",
      });
      expect(server("plainBasic").connections()).toBe(before);
    }
  });

  it("a listed host is not spoken to over http unless its endpoint says http (no fallback from https)", async () => {
    const before = server("plainBasic").requests.length;
    const result = await verifyLogin({ host: `registry.test:${ports.plainBasic}` }, GOOD, { ...OPTIONS, insecureRegistries: insecure("plainBasic") });
    // The TLS handshake meets a plain-HTTP server: it fails there, before any request.
    expect(result).toMatchObject({ status: "failed", code: "tls_error" });
    expect(server("plainBasic").requests.length).toBe(before);
  });

  it("Bearer with an http realm: the credentials go to the realm only when its host is listed too", async () => {
    const before = server("plainToken").connections();
    const registryOnly = await verifyLogin(plainEndpoint("plainBearer"), GOOD, { ...OPTIONS, insecureRegistries: insecure("plainBearer") });
    expect(registryOnly).toMatchObject({ status: "failed", code: "insecure_realm", detail: expect.stringContaining("MODBOX_INSECURE_REGISTRIES") });
    expect(server("plainToken").connections()).toBe(before);

    const both = { ...OPTIONS, insecureRegistries: insecure("plainBearer", "plainToken") };
    await expect(verifyLogin(plainEndpoint("plainBearer"), GOOD, both)).resolves.toEqual({ status: "verified" });
    await expect(checkPull(plainEndpoint("plainBearer"), "org/app", "v1", GOOD, both)).resolves.toMatchObject({ ok: true, digest: APP.digest });
    expect(server("plainToken").requests.at(-1)).toMatchObject({ authorization: basic(USERNAME, PASSWORD) });
  });
});

/**
 * Answers the registry cannot be made to give on demand (a digest header that disagrees, a 403,
 * a failing GET after a HEAD), from an injected `send` that plays the registry.
 */
describe("decisions on the registry's answers (injected send)", () => {
  interface Reply {
    status: number;
    headers?: Record<string, string>;
    body?: string;
  }
  const HOST = "registry.test";
  const BASIC_CHALLENGE = { "www-authenticate": 'Basic realm="r"' };
  const BEARER_CHALLENGE = { "www-authenticate": 'Bearer realm="https://auth.test/token",service="reg"' };

  function registry(answer: (request: OutboundRequest, path: string) => Reply | Error): { options: OutboundOptions; requests: OutboundRequest[] } {
    const requests: OutboundRequest[] = [];
    const send: Send = async (request) => {
      requests.push(request);
      const url = new URL(String(request.url));
      const reply = url.host === "auth.test" ? { status: 200, body: JSON.stringify({ token: "tok-1" }) } : answer(request, url.pathname);
      if (reply instanceof Error) throw reply;
      return {
        url: url.toString(),
        status: reply.status,
        headers: Object.fromEntries(Object.entries(reply.headers ?? {}).map(([name, value]) => [name, [value]])),
        body: Buffer.from(reply.body ?? ""),
      };
    };
    return { options: { allowPrivate: false, send }, requests };
  }
  const seen = (requests: OutboundRequest[]) => requests.map((r) => [r.method, String(r.url), r.headers?.authorization]);
  const sha = (algorithm: "sha256" | "sha512", text: string) => `${algorithm}:${createHash(algorithm).update(text).digest("hex")}`;
  const BASIC_AUTH = basic(USERNAME, PASSWORD);

  describe("verifyLogin", () => {
    it("registry_error when the authenticated GET /v2/ answers 5xx", async () => {
      const { options, requests } = registry((request) =>
        request.headers?.authorization === undefined ? { status: 401, headers: BASIC_CHALLENGE } : { status: 503 },
      );
      await expect(verifyLogin({ host: HOST }, GOOD, options)).resolves.toEqual({
        status: "failed",
        code: "registry_error",
        detail: "registry.test: GET /v2/ answered 503",
      });
      expect(seen(requests)).toEqual([
        ["GET", "https://registry.test/v2/", undefined],
        ["GET", "https://registry.test/v2/", BASIC_AUTH],
      ]);
    });

    it("names the registry when the authenticated GET /v2/ fails in transit", async () => {
      const { options } = registry((request) =>
        request.headers?.authorization === undefined ? { status: 401, headers: BASIC_CHALLENGE } : new OutboundError("unreachable", "the connection was reset"),
      );
      await expect(verifyLogin({ host: HOST }, GOOD, options)).resolves.toEqual({
        status: "failed",
        code: "registry_unreachable",
        detail: "registry.test: the connection was reset",
      });
    });

    it("lets an unexpected error through", async () => {
      const boom = new Error("a bug");
      await expect(verifyLogin({ host: HOST }, GOOD, registry(() => boom).options)).rejects.toBe(boom);
    });
  });

  describe("checkPull", () => {
    const body = '{"schemaVersion":2}';
    const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    it("answers a 401 on the manifest once when /v2/ already asked for credentials: no second try", async () => {
      const { options, requests } = registry(() => ({ status: 401, headers: BASIC_CHALLENGE }));
      await expect(checkPull({ host: HOST }, "org/app", "v1", BAD, options)).resolves.toEqual({
        ok: false,
        code: "registry_auth_failed",
        detail: "registry.test: pulling org/app:v1 was refused (401)",
      });
      expect(requests.map((r) => [r.method, String(r.url)])).toEqual([
        ["GET", "https://registry.test/v2/"],
        ["HEAD", "https://registry.test/v2/org/app/manifests/v1"],
      ]);
    });

    it("answers the manifest's own challenge with a HEAD when /v2/ was open", async () => {
      const { options, requests } = registry((request, path) => {
        if (path === "/v2/") return { status: 200 };
        if (request.headers?.authorization === undefined) return { status: 401, headers: BASIC_CHALLENGE };
        return { status: 200, headers: { "content-type": OCI_MANIFEST, "docker-content-digest": sha("sha256", body) } };
      });
      await expect(checkPull({ host: HOST }, "org/app", "v1", GOOD, options)).resolves.toEqual({ ok: true, digest: sha("sha256", body), mediaType: OCI_MANIFEST });
      expect(seen(requests)).toEqual([
        ["GET", "https://registry.test/v2/", undefined],
        ["HEAD", "https://registry.test/v2/org/app/manifests/v1", undefined],
        ["HEAD", "https://registry.test/v2/org/app/manifests/v1", BASIC_AUTH],
      ]);
    });

    it("hashes the manifest (GET) when the digest header is not a digest, and prefers the GET's media type", async () => {
      const { options, requests } = registry((request, path): Reply => {
        if (path === "/v2/") return { status: 200 };
        if (request.method === "HEAD") return { status: 200, headers: { "content-type": "application/vnd.oci.image.index.v1+json", "docker-content-digest": "md5:abc" } };
        return { status: 200, headers: { "content-type": OCI_MANIFEST }, body };
      });
      await expect(checkPull({ host: HOST }, "org/app", "v1", null, options)).resolves.toEqual({ ok: true, digest: sha("sha256", body), mediaType: OCI_MANIFEST });
      expect(requests.map((r) => r.method)).toEqual(["GET", "HEAD", "GET"]);
    });

    it("keeps the HEAD's media type when the GET has none", async () => {
      const { options } = registry((request, path) => {
        if (path === "/v2/") return { status: 200 };
        if (request.method === "HEAD") return { status: 200, headers: { "content-type": OCI_MANIFEST } };
        return { status: 200, body };
      });
      await expect(checkPull({ host: HOST }, "org/app", "v1", null, options)).resolves.toEqual({ ok: true, digest: sha("sha256", body), mediaType: OCI_MANIFEST });
    });

    it("hashes with sha512 for a sha512 reference", async () => {
      const digest = sha("sha512", body);
      const { options } = registry((_request, path) => (path === "/v2/" ? { status: 200 } : { status: 200, body }));
      await expect(checkPull({ host: HOST }, "org/app", digest, null, options)).resolves.toEqual({ ok: true, digest, mediaType: null });
    });

    it("registry_error when the GET after the HEAD fails", async () => {
      const { options } = registry((request, path) => (path === "/v2/" || request.method === "HEAD" ? { status: 200 } : { status: 500 }));
      await expect(checkPull({ host: HOST }, "org/app", "v1", null, options)).resolves.toEqual({
        ok: false,
        code: "registry_error",
        detail: "registry.test: the manifest of org/app:v1 answered 500",
      });
    });

    it("registry_error when the registry serves a digest reference under another digest", async () => {
      const asked = sha("sha256", "asked");
      for (const headers of [{ "docker-content-digest": sha("sha256", "other") }, {}] as Record<string, string>[]) {
        const { options } = registry((_request, path) => (path === "/v2/" ? { status: 200 } : { status: 200, headers, body }));
        await expect(checkPull({ host: HOST }, "org/app", asked, null, options)).resolves.toEqual({
          ok: false,
          code: "registry_error",
          detail: `registry.test: the registry served org/app@${asked} under another digest`,
        });
      }
    });

    it("image_not_found names a digest reference with @", async () => {
      const digest = sha("sha256", "x");
      const { options } = registry((_request, path) => (path === "/v2/" ? { status: 200 } : { status: 404 }));
      await expect(checkPull({ host: HOST }, "org/app", digest, null, options)).resolves.toEqual({
        ok: false,
        code: "image_not_found",
        detail: `registry.test: org/app@${digest} was not found`,
      });
    });

    it.each([
      ["403 with Basic", BASIC_CHALLENGE, 403, "registry_auth_failed", "registry.test: pulling org/app:v1 was refused (403)"],
      ["400 with Basic", BASIC_CHALLENGE, 400, "registry_error", "registry.test: the manifest of org/app:v1 answered 400"],
      ["400 anonymously", null, 400, "registry_error", "registry.test: the manifest of org/app:v1 answered 400"],
      ["400 with a Bearer token", BEARER_CHALLENGE, 400, "registry_auth_failed", "registry.test: pulling org/app:v1 was refused (400)"],
      ["500 with a Bearer token", BEARER_CHALLENGE, 500, "registry_error", "registry.test: the manifest of org/app:v1 answered 500"],
    ] as const)("manifest %s → %s", async (_name, challenge, status, code, detail) => {
      const { options } = registry((request, path) => {
        if (path === "/v2/") return challenge === null || request.headers?.authorization !== undefined ? { status: 200 } : { status: 401, headers: challenge };
        return { status };
      });
      await expect(checkPull({ host: HOST }, "org/app", "v1", GOOD, options)).resolves.toEqual({ ok: false, code, detail });
    });

    it("names the registry when the manifest request fails in transit", async () => {
      const { options } = registry((_request, path) => (path === "/v2/" ? { status: 200 } : new OutboundError("timeout", "no complete answer within 5000 ms")));
      await expect(checkPull({ host: HOST }, "org/app", "v1", null, options)).resolves.toEqual({
        ok: false,
        code: "registry_unreachable",
        detail: "registry.test: no complete answer within 5000 ms",
      });
    });

    it("lets an unexpected error through", async () => {
      const boom = new Error("a bug");
      await expect(checkPull({ host: HOST }, "org/app", "v1", null, registry(() => boom).options)).rejects.toBe(boom);
    });

    it.each([
      ["application/vnd.oci.image.manifest.v1+json", OCI_MANIFEST],
      [" Application/Vnd.OCI.Image.Manifest.v1+json ; charset=utf-8", OCI_MANIFEST],
      ["text", null],
      ["!application/json", null],
      ["application/json/extra", null],
      [undefined, null],
    ])("media type %j → %j", async (contentType, expected) => {
      const headers: Record<string, string> = { "docker-content-digest": sha("sha256", body) };
      if (contentType !== undefined) headers["content-type"] = contentType;
      const { options } = registry((_request, path) => (path === "/v2/" ? { status: 200 } : { status: 200, headers }));
      await expect(checkPull({ host: HOST }, "org/app", "v1", null, options)).resolves.toEqual({ ok: true, digest: sha("sha256", body), mediaType: expected });
    });

    it("accepts a repository of 255 characters and refuses 256, saying what it must be", async () => {
      const { options } = registry((_request, path) => (path === "/v2/" ? { status: 200 } : { status: 404 }));
      const longest = `org/${"a".repeat(251)}`;
      await expect(checkPull({ host: HOST }, longest, "v1", null, options)).resolves.toMatchObject({ code: "image_not_found" });
      await expect(checkPull({ host: HOST }, `${longest}a`, "v1", null, options)).rejects.toThrow(
        new TypeError("repository must be a lowercase path like org/image"),
      );
      await expect(checkPull({ host: HOST }, "org/app", "v1:x", null, options)).rejects.toThrow(
        new TypeError("reference must be a tag or a sha256/sha512 digest"),
      );
    });
  });
});
