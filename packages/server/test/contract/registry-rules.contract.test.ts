/**
 * The registry rules that need no registry on the network (safe delete, disabled registries,
 * host consistency, provider rules, verification state), through the SDK (and raw fetch where
 * the exact answer matters) against the real app on every backend:
 *
 * - registry servers are normalised as users type them, and hosts that disguise an address are
 *   refused (422 naming `/body/server`);
 * - the provider is recognised from the server; credentials a provider certainly refuses are 422
 *   errors naming the field, likely mistakes are warnings stored with the registry;
 * - a CA certificate must be PEM that parses, and comes back as stored;
 * - image references follow the Docker reference grammar, and a linked registry must serve the
 *   image's host (`registry_host_mismatch`, Docker Hub's spellings being one registry);
 * - changing a credential resets its verification;
 * - a registry still in use is not deleted unless forced, and its images then keep `registry_id`;
 * - pull checks answer `registry_disabled`, `registry_deleted`, `image_disabled`,
 *   `registry_host_mismatch` before any network call;
 * - pull credentials: provisioner scope only, refusals with their codes, every runtime format,
 *   `Cache-Control: no-store`, an audit row per call (never the secret), `last_used_at` set.
 *
 * The only outbound calls go to loopback (the test app's outbound policy allows it): 127.0.0.1:9,
 * where nothing listens, to prove "verify on save" records `registry_unreachable`, and a port that
 * counts the connections it drops, to prove the refusals happen before any call.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  APIError,
  type ModboxClient,
  type PullCheck,
  type Registry,
  type RegistryCreate,
  type SandboxImage,
} from "@modbox/sdk";
import { sql, type SQL } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiToken } from "../../src/auth/api-token.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const NEVER_VERIFIED = { status: "unverified", checked_at: null, error_code: null, detail: null } as const;
/** Nothing listens on the discard port of loopback: a registry that cannot be reached. */
const UNREACHABLE = "127.0.0.1:9";
const SHA256 = `sha256:${"0123456789abcdef".repeat(4)}`;
const EVENT_COLUMNS = ["created_at", "id", "image_id", "outcome", "registry_id", "token_id", "workspace_id"];

const hex = (bytes = 6) => randomBytes(bytes).toString("hex");
const ghpToken = () => `ghp_${hex(18)}`;
const serviceAccountKey = () =>
  JSON.stringify({
    type: "service_account",
    project_id: "modbox-test",
    client_email: "puller@modbox-test.iam.gserviceaccount.com",
    private_key: `-----BEGIN PRIVATE KEY-----\n${hex(32)}\n-----END PRIVATE KEY-----\n`,
  });

/** The rejection of a call, as the SDK's typed error. */
async function apiError(call: Promise<unknown>): Promise<APIError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected the call to fail; it answered ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(APIError);
  return outcome.error as APIError;
}

/** Rows of a raw query: postgres.js answers an array, PGlite `{ rows }`. */
async function rows(app: TestApp, query: SQL): Promise<Array<Record<string, unknown>>> {
  const result = (await app.database.db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
}

/** RFC 4648 §5 with padding, as the Docker daemon (Go's base64.URLEncoding) reads it. */
function decodePaddedBase64Url(text: string): unknown {
  expect(text).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
  expect(text.length % 4).toBe(0);
  return JSON.parse(Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Every form a secret could take in a stored row. */
function secretForms(username: string, password: string): string[] {
  return [
    password,
    JSON.stringify(password).slice(1, -1),
    base64(password),
    Buffer.from(password).toString("base64url"),
    base64(`${username}:${password}`),
    Buffer.from(password).toString("hex"),
  ];
}

/** Two throwaway self-signed CA certificates, made by openssl. */
function makeCaCertificates(): [string, string] {
  const dir = mkdtempSync(join(tmpdir(), "modbox-ca-"));
  try {
    const make = (name: string) => {
      execFileSync(
        "openssl",
        [
          "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`), "-days", "2",
          "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        { stdio: "ignore" },
      );
      return readFileSync(join(dir, `${name}.pem`), "utf8");
    };
    return [make("modbox-test-ca-1"), make("modbox-test-ca-2")];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A loopback TCP port that counts connections and drops each at once: a registry that tells when it is contacted. */
async function startCountingListener() {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let caPem: string;
let caPem2: string;
let listener: Awaited<ReturnType<typeof startCountingListener>>;
beforeAll(async () => {
  [caPem, caPem2] = makeCaCertificates();
  listener = await startCountingListener();
});
afterAll(() => listener?.close());

describe.each(backends)("registry rules contract on %s", (backend) => {
  let app: TestApp;
  /** The workspace every pull-credentials call is made in (the provisioner is granted it only). */
  const WS = `ws-rules-${hex()}`;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  let provisionerToken: string;
  let provisionerTokenId: string;

  beforeAll(async () => {
    app = await startTestApp(backend);
    client = app.client(WS);
    provisionerToken = await app.createToken({ workspaceIds: [WS], scope: "provisioner" });
    provisioner = app.client(WS, provisionerToken);
    const [token] = await rows(app, sql`select id from api_tokens where token_hash = ${hashApiToken(provisionerToken)}`);
    provisionerTokenId = String(token!.id);
  });
  afterAll(() => app?.close());

  /** A client on a workspace nobody else uses. */
  const fresh = () => app.client(`ws-rules-${hex()}`);
  const registryBody = (overrides: Partial<RegistryCreate> = {}): RegistryCreate => ({
    name: `registry ${hex()}`,
    server: "ghcr.io",
    username: "octocat",
    password: ghpToken(),
    ...overrides,
  });

  /** Asserts a 422 `validation_failed` naming exactly one field, and that no value comes back. */
  function expectFieldError(err: APIError, path: string, mustNotEcho: string[] = []) {
    expect(err.status).toBe(422);
    expect(err.code).toBe("validation_failed");
    expect(err.problem?.errors).toEqual([{ path, message: expect.any(String) }]);
    const text = JSON.stringify(err.problem);
    for (const value of mustNotEcho) expect(text).not.toContain(value);
  }

  async function storedServer(id: string): Promise<string> {
    const [row] = await rows(app, sql`select server from registries where id = ${id}`);
    return String(row!.server);
  }

  // ─── Server normalisation ────────────────────────────────────────────────────────────────

  describe("registry servers are stored as the bare lowercase host[:port]", () => {
    it.each([
      ["https://GHCR.io/", "ghcr.io", "ghcr"],
      ["GHCR.IO", "ghcr.io", "ghcr"],
      ["ghcr.io/", "ghcr.io", "ghcr"],
      ["http://ghcr.io/v2/", "ghcr.io", "ghcr"],
      ["docker.io", "docker.io", "dockerhub"],
      ["index.docker.io", "docker.io", "dockerhub"],
      ["registry-1.docker.io", "docker.io", "dockerhub"],
      ["registry.hub.docker.com", "docker.io", "dockerhub"],
      ["https://index.docker.io/v1/", "docker.io", "dockerhub"],
      ["registry.example.com:5000", "registry.example.com:5000", "self_hosted"],
      ["HTTPS://Registry.Example.com:5000/v2/", "registry.example.com:5000", "self_hosted"],
      ["localhost:5000", "localhost:5000", "self_hosted"],
      ["127.0.0.1:5000", "127.0.0.1:5000", "self_hosted"],
      ["[::1]:5000", "[::1]:5000", "self_hosted"],
      ["[0:0:0:0:0:0:0:1]:5000", "[::1]:5000", "self_hosted"],
      // The port as written: to Docker, ghcr.io:443 is another registry than ghcr.io.
      ["ghcr.io:443", "ghcr.io:443", "self_hosted"],
    ])("%s → %s (%s)", async (typed, stored, provider) => {
      const created = await client.registries.create(registryBody({ server: typed }));
      expect(created.server).toBe(stored);
      expect(created.provider).toBe(provider);
      expect(await client.registries.get(created.id)).toEqual(created);
      expect(await storedServer(created.id)).toBe(stored);
    });

    it("the list's server filter is normalised the same way", async () => {
      const ws = fresh();
      const ghcr = await ws.registries.create(registryBody({ server: "https://GHCR.io/" }));
      const hub = await ws.registries.create(registryBody({ server: "registry-1.docker.io", password: `dckr_pat_${hex()}` }));
      for (const filter of ["ghcr.io", "https://GHCR.io/", "GHCR.IO"]) {
        expect((await ws.registries.list({ server: filter })).data.map((r) => r.id), filter).toEqual([ghcr.id]);
      }
      for (const filter of ["docker.io", "index.docker.io", "https://index.docker.io/v1/"]) {
        expect((await ws.registries.list({ server: filter })).data.map((r) => r.id), filter).toEqual([hub.id]);
      }
      // A filter that is no server matches nothing (rather than failing).
      expect((await ws.registries.list({ server: "0x7f.0.0.1" })).data).toEqual([]);
    });

    it("an update normalises the server too, and the provider follows it", async () => {
      const created = await client.registries.create(registryBody());
      const moved = await client.registries.update(created.id, { server: "HTTPS://Index.Docker.IO/v1/" });
      expect(moved).toMatchObject({ server: "docker.io", provider: "dockerhub" });
      expect(await storedServer(created.id)).toBe("docker.io");
    });

    it.each([
      "ghcr.io/path",
      "ghcr.io/your-org/your-image",
      "user@host",
      "user@ghcr.io",
      "2130706433",
      "0x7f.0.0.1",
      "0177.0.0.1",
      "127.1",
      "http://2130706433/",
      "ftp://ghcr.io",
      "ghcr.io:0",
      "ghcr.io:65536",
      "ghcr.io.",
      "myregistry",
      "::1",
    ])("%s → 422 naming /body/server, on create and on update", async (server) => {
      // The rules quote their own examples (`user@host`, `[::1]:5000`): those are not echoes.
      const echo = ["user@host", "::1"].includes(server) ? [] : [server];
      const ws = fresh();
      expectFieldError(await apiError(ws.registries.create(registryBody({ server }))), "/body/server", echo);
      expect((await ws.registries.list()).data).toEqual([]);

      const existing = await ws.registries.create(registryBody());
      expectFieldError(await apiError(ws.registries.update(existing.id, { server })), "/body/server", echo);
      expect(await ws.registries.get(existing.id)).toEqual(existing);
    });
  });

  // ─── Providers ───────────────────────────────────────────────────────────────────────────

  describe("providers: recognised from the server; errors refuse, warnings are stored", () => {
    it.each([
      ["ghcr.io", "octocat", ghpToken, "ghcr", []],
      ["docker.io", "octocat", () => `dckr_pat_${hex()}`, "dockerhub", []],
      ["europe-west1-docker.pkg.dev", "_json_key", serviceAccountKey, "google", []],
      ["us-docker.pkg.dev", "_json_key_base64", () => base64(serviceAccountKey()), "google", []],
      ["gcr.io", "_json_key", serviceAccountKey, "google", []],
      ["eu.gcr.io", "oauth2accesstoken", () => `ya29.${hex()}`, "google", ["google_token_expiry"]],
      ["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS", () => `ecrtoken${hex()}`, "ecr", ["ecr_token_expiry"]],
      ["123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "AWS", () => `ecrtoken${hex()}`, "ecr", ["ecr_token_expiry"]],
      ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "AWS", () => `ecrtoken${hex()}`, "ecr", ["ecr_token_expiry"]],
      ["myregistry.azurecr.io", "00000000-0000-0000-0000-000000000000", () => `acr-${hex()}`, "acr", []],
      ["registry.example.com", "robot", () => `pw-${hex()}`, "self_hosted", []],
      ["ghcr.io:5000", "robot", () => `pw-${hex()}`, "self_hosted", []],
    ] as const)("%s with %s → provider %s, warnings %j", async (server, username, password, provider, warnings) => {
      const secret = password();
      const created = await client.registries.create(registryBody({ server, username, password: secret }));
      expect(created.provider).toBe(provider);
      expect(created.warnings.map((w) => w.code)).toEqual(warnings);
      expect(JSON.stringify(created)).not.toContain(secret);
    });

    const key = serviceAccountKey();
    it.each([
      ["ECR with the username aws (not AWS)", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "aws", `ecrtoken${hex()}`, "/body/username"],
      ["ECR with another username", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "octocat", `ecrtoken${hex()}`, "/body/username"],
      ["ECR with the whole base64 AWS:<password> token", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS", base64(`AWS:secret-${hex()}`), "/body/password"],
      ["Google with another username", "europe-west1-docker.pkg.dev", "octocat", key, "/body/username"],
      ["Google _json_key with a password that is not JSON", "europe-west1-docker.pkg.dev", "_json_key", `not-json-${hex()}`, "/body/password"],
      ["Google _json_key with JSON that is not a service-account key", "gcr.io", "_json_key", JSON.stringify({ type: "user", secret: hex() }), "/body/password"],
      ["Google _json_key_base64 with the raw JSON key", "europe-west1-docker.pkg.dev", "_json_key_base64", key, "/body/password"],
      ["Google oauth2accesstoken with a service-account key", "europe-west1-docker.pkg.dev", "oauth2accesstoken", key, "/body/password"],
    ])("%s → 422 naming the field, never echoing the password", async (_label, server, username, password, path) => {
      const ws = fresh();
      const err = await apiError(ws.registries.create(registryBody({ server, username, password })));
      expectFieldError(err, path, [password, base64(password), JSON.stringify(password).slice(1, -1)]);
      expect(err.message).not.toContain(password);
      expect((await ws.registries.list()).data).toEqual([]);
    });

    it("the rules hold on update too: moving a registry to ECR re-checks the stored username", async () => {
      const created = await client.registries.create(registryBody({ username: "octocat" }));
      const ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
      expectFieldError(await apiError(client.registries.update(created.id, { server: ecr })), "/body/username");
      expect(await client.registries.get(created.id)).toEqual(created);

      const moved = await client.registries.update(created.id, { server: ecr, username: "AWS" });
      expect(moved).toMatchObject({ server: ecr, username: "AWS", provider: "ecr" });
      expect(moved.warnings.map((w) => w.code)).toEqual(["ecr_token_expiry"]);
    });

    it.each([
      ["GHCR with a password that is not a GitHub token", "ghcr.io", "octocat", `password-${hex()}`, [["ghcr_token_format", "password"]]],
      ["GHCR with a fine-grained token", "ghcr.io", "octocat", `github_pat_${hex()}`, [["ghcr_fine_grained_token", "password"]]],
      ["Docker Hub with an account password", "docker.io", "octocat", `password-${hex()}`, [["dockerhub_password", "password"]]],
      ["Docker Hub with an email as username", "index.docker.io", "octo@example.com", `dckr_pat_${hex()}`, [["dockerhub_username_email", "username"]]],
      ["ACR with an email as username", "myregistry.azurecr.io", "octo@example.com", `acr-${hex()}`, [["acr_username_email", "username"]]],
      ["a password pasted with a trailing newline", "registry.example.com", "robot", `pw-${hex()}\n`, [["password_whitespace", "password"]]],
    ])("%s → 201 with a warning, stored and returned", async (_label, server, username, password, expected) => {
      const created = await client.registries.create(registryBody({ server, username, password }));
      expect(created.warnings).toEqual(expected.map(([code, field]) => ({ code, field, message: expect.any(String) })));
      expect(JSON.stringify(created.warnings)).not.toContain(password.trim());
      expect(await client.registries.get(created.id)).toEqual(created);
    });

    it("a warning goes away when the credential is fixed", async () => {
      const created = await client.registries.create(registryBody({ password: `password-${hex()}` }));
      expect(created.warnings.map((w) => w.code)).toEqual(["ghcr_token_format"]);
      const fixed = await client.registries.update(created.id, { password: ghpToken() });
      expect(fixed.warnings).toEqual([]);
      // Changing another field keeps the warnings of the credential as it is.
      const hub = await client.registries.create(registryBody({ server: "docker.io", password: `password-${hex()}` }));
      expect((await client.registries.update(hub.id, { name: `renamed ${hex()}` })).warnings).toEqual(hub.warnings);
    });
  });

  // ─── CA certificates ─────────────────────────────────────────────────────────────────────

  describe("ca_certificate", () => {
    it("a PEM certificate is stored and returned as sent; null clears it", async () => {
      const created = await client.registries.create(registryBody({ server: "registry.example.com:5000", ca_certificate: caPem }));
      expect(created.ca_certificate).toBe(caPem);
      expect(await client.registries.get(created.id)).toEqual(created);
      const [row] = await rows(app, sql`select ca_certificate from registries where id = ${created.id}`);
      expect(row!.ca_certificate).toBe(caPem);

      const bundle = `${caPem}${caPem2}`;
      expect((await client.registries.update(created.id, { ca_certificate: bundle })).ca_certificate).toBe(bundle);
      expect((await client.registries.update(created.id, { ca_certificate: null })).ca_certificate).toBeNull();
    });

    it.each([
      ["text that is not PEM", "not a certificate"],
      ["a private key", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"],
      ["a PEM block that is not a certificate", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"],
      ["a bundle with one bad certificate", () => `${caPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`],
      ["a truncated certificate", () => caPem.slice(0, caPem.length / 2) + "\n-----END CERTIFICATE-----\n"],
    ])("%s → 422 naming /body/ca_certificate, on create and on update", async (_label, value) => {
      const pem = typeof value === "function" ? value() : value;
      const ws = fresh();
      expectFieldError(await apiError(ws.registries.create(registryBody({ ca_certificate: pem }))), "/body/ca_certificate");
      const existing = await ws.registries.create(registryBody({ ca_certificate: caPem }));
      expectFieldError(await apiError(ws.registries.update(existing.id, { ca_certificate: pem })), "/body/ca_certificate");
      expect(await ws.registries.get(existing.id)).toEqual(existing);
    });
  });

  // ─── Image references ────────────────────────────────────────────────────────────────────

  describe("image references follow the Docker reference grammar", () => {
    it.each([
      ["ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["ubuntu", "22.04", "docker.io/library/ubuntu:22.04"],
      ["library/ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["docker.io/library/ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["index.docker.io/library/ubuntu", undefined, "docker.io/library/ubuntu:latest"],
      ["registry-1.docker.io/library/ubuntu", "noble", "docker.io/library/ubuntu:noble"],
      ["bitnami/redis", "7.2", "docker.io/bitnami/redis:7.2"],
      ["ghcr.io/your-org/your-image", "latest", "ghcr.io/your-org/your-image:latest"],
      ["GHCR.io/your-org/your-image", "v1", "ghcr.io/your-org/your-image:v1"],
      ["localhost:5000/team/app", "v1", "localhost:5000/team/app:v1"],
      ["localhost/team/app", undefined, "localhost/team/app:latest"],
      ["[::1]:5000/team/app", "v1", "[::1]:5000/team/app:v1"],
      ["registry.example.com/a.b/c_d/e__f/g-h", "V1.0_rc-2", "registry.example.com/a.b/c_d/e__f/g-h:V1.0_rc-2"],
      // A digest is what is pulled; the tag stays as a label.
      [`ghcr.io/org/app@${SHA256}`, "v1", `ghcr.io/org/app@${SHA256}`],
      [`ubuntu@${SHA256}`, undefined, `docker.io/library/ubuntu@${SHA256}`],
    ])("image %s, tag %s → reference %s", async (image, tag, reference) => {
      const created = await client.sandboxImages.create({ name: "ref", image, ...(tag !== undefined && { tag }) });
      expect(created).toMatchObject({ image, tag: tag ?? "latest", reference });
      expect(await client.sandboxImages.get(created.id)).toEqual(created);
    });

    it.each([
      ["uppercase (Org/App)", { image: "Org/App" }, "/body/image"],
      ["a tag in image", { image: "ghcr.io/a/b:tag" }, "/body/image"],
      ["a tag in image, Docker Hub", { image: "ubuntu:22.04" }, "/body/image"],
      ["a scheme", { image: "https://ghcr.io/a/b" }, "/body/image"],
      ["an empty path component", { image: "ghcr.io/a//b" }, "/body/image"],
      ["a host without a path", { image: "localhost:5000" }, "/body/image"],
      ["a numeric host disguise", { image: "0x7f.0.0.1/a/b" }, "/body/image"],
      ["a short digest", { image: "ghcr.io/a/b@sha256:abc" }, "/body/image"],
      ["an image id", { image: "a".repeat(64) }, "/body/image"],
      ["a tag starting with a dash", { image: "ghcr.io/a/b", tag: "-bad" }, "/body/tag"],
      ["a tag starting with a dot", { image: "ghcr.io/a/b", tag: ".bad" }, "/body/tag"],
      ["a tag with a slash", { image: "ghcr.io/a/b", tag: "v1/x" }, "/body/tag"],
      ["a tag with a colon", { image: "ghcr.io/a/b", tag: "v1:x" }, "/body/tag"],
    ])("%s → 422 naming the field, on create and on update", async (_label, fields, path) => {
      expectFieldError(await apiError(client.sandboxImages.create({ name: "bad ref", ...fields })), path);
      const existing = await client.sandboxImages.create({ name: "good ref", image: "ghcr.io/a/b", tag: "v1" });
      expectFieldError(await apiError(client.sandboxImages.update(existing.id, fields)), path);
      expect(await client.sandboxImages.get(existing.id)).toEqual(existing);
    });

    it("a tag in image is refused with a message that says where it goes", async () => {
      const err = await apiError(client.sandboxImages.create({ name: "tagged", image: "ghcr.io/a/b:tag" }));
      expect(err.problem?.errors?.[0]?.message).toMatch(/tag field/);
    });

    it("updating the tag or image re-derives the reference", async () => {
      const created = await client.sandboxImages.create({ name: "moving", image: "ubuntu" });
      expect((await client.sandboxImages.update(created.id, { tag: "24.04" })).reference).toBe("docker.io/library/ubuntu:24.04");
      expect((await client.sandboxImages.update(created.id, { image: "ghcr.io/o/ubuntu" })).reference).toBe("ghcr.io/o/ubuntu:24.04");
      expect((await client.sandboxImages.update(created.id, { image: `ghcr.io/o/ubuntu@${SHA256}` })).reference).toBe(`ghcr.io/o/ubuntu@${SHA256}`);
    });
  });

  // ─── Image ↔ registry host ───────────────────────────────────────────────────────────────

  describe("a linked registry must serve the image's host", () => {
    it.each([
      ["docker.io/library/ubuntu", "docker.io"],
      ["ubuntu", "docker.io"],
      ["quay.io/org/app", "quay.io"],
      ["ghcr.io:5000/org/app", "ghcr.io:5000"],
    ])("a ghcr.io registry and %s → 422 registry_host_mismatch naming both hosts", async (image, imageHost) => {
      const ghcr = await client.registries.create(registryBody());
      const err = await apiError(client.sandboxImages.create({ name: "mismatch", image, registry_id: ghcr.id }));
      expect(err.status).toBe(422);
      expect(err.code).toBe("registry_host_mismatch");
      expect(err.problem).toMatchObject({ image_host: imageHost, registry_server: "ghcr.io" });
      expect(err.problem?.errors).toEqual([{ path: "/body/registry_id", message: expect.any(String) }]);
      expect(err.detail).toContain(imageHost);
      expect(err.detail).toContain("ghcr.io");
    });

    it("Docker Hub's spellings are one registry, for the server and for the image", async () => {
      const images = ["ubuntu", "library/ubuntu", "docker.io/library/ubuntu", "index.docker.io/library/ubuntu", "registry-1.docker.io/library/ubuntu", "bitnami/redis"];
      for (const server of ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]) {
        const hub = await client.registries.create(registryBody({ server, password: `dckr_pat_${hex()}` }));
        for (const image of images) {
          const linked = await client.sandboxImages.create({ name: "hub", image, registry_id: hub.id });
          expect(linked.registry_id, `${server} ↔ ${image}`).toBe(hub.id);
        }
      }
    });

    it("the port is part of the host: registry.example.com:5000 serves only images on :5000", async () => {
      const selfHosted = await client.registries.create(registryBody({ server: "registry.example.com:5000", username: "robot" }));
      expect((await client.sandboxImages.create({ name: "ok", image: "registry.example.com:5000/team/app", registry_id: selfHosted.id })).registry_id).toBe(
        selfHosted.id,
      );
      const err = await apiError(client.sandboxImages.create({ name: "no port", image: "registry.example.com/team/app", registry_id: selfHosted.id }));
      expect(err.code).toBe("registry_host_mismatch");
      expect(err.problem).toMatchObject({ image_host: "registry.example.com", registry_server: "registry.example.com:5000" });
    });

    it("updates are checked too: a new image, a new registry, or both together", async () => {
      const ghcr = await client.registries.create(registryBody());
      const hub = await client.registries.create(registryBody({ server: "docker.io", password: `dckr_pat_${hex()}` }));
      const image = await client.sandboxImages.create({ name: "linked", image: "ghcr.io/org/app", registry_id: ghcr.id });

      expect((await apiError(client.sandboxImages.update(image.id, { image: "ubuntu" }))).code).toBe("registry_host_mismatch");
      expect((await apiError(client.sandboxImages.update(image.id, { registry_id: hub.id }))).code).toBe("registry_host_mismatch");
      expect(await client.sandboxImages.get(image.id)).toEqual(image);

      const moved = await client.sandboxImages.update(image.id, { image: "ubuntu", registry_id: hub.id });
      expect(moved).toMatchObject({ image: "ubuntu", registry_id: hub.id, registry_name: hub.name, reference: "docker.io/library/ubuntu:latest" });
      // Unlinked, any host is fine: a public image.
      expect((await client.sandboxImages.update(image.id, { image: "quay.io/org/app", registry_id: null })).registry_id).toBeNull();
    });
  });

  // ─── Verification state ──────────────────────────────────────────────────────────────────

  describe("verification", () => {
    it("a new registry is unverified; verify on save against an unreachable registry records failed and still saves", async () => {
      expect((await client.registries.create(registryBody())).verification).toEqual(NEVER_VERIFIED);

      const before = Date.now();
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      expect(created.verification).toEqual({ status: "failed", checked_at: expect.stringMatching(ISO), error_code: "registry_unreachable", detail: null });
      expect(Date.parse(created.verification.checked_at!)).toBeGreaterThanOrEqual(before - 1000);
      expect(await client.registries.get(created.id)).toEqual(created);
    });

    it("POST /verify answers the fresh outcome with its detail and records it, without touching updated_at", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }));
      const result = await client.registries.verify(created.id);
      expect(result).toEqual({ status: "failed", checked_at: expect.stringMatching(ISO), error_code: "registry_unreachable", detail: expect.any(String) });
      const stored = await client.registries.get(created.id);
      expect(stored).toEqual({ ...created, verification: { ...result, detail: null } });
      expect(stored.updated_at).toBe(created.updated_at);
    });

    it("verify: 404 for a missing registry, 409 registry_disabled for a disabled one", async () => {
      const missing = await apiError(client.registries.verify(randomUUID()));
      expect([missing.status, missing.code]).toEqual([404, "not_found"]);
      const disabled = await client.registries.create(registryBody({ server: UNREACHABLE, enabled: false }));
      const refused = await apiError(client.registries.verify(disabled.id));
      expect([refused.status, refused.code]).toEqual([409, "registry_disabled"]);
      expect((await client.registries.get(disabled.id)).verification).toEqual(NEVER_VERIFIED);
    });

    it.each([
      ["username", () => ({ username: "another-robot" })],
      ["password", () => ({ password: `pw-${hex()}` })],
      ["server", () => ({ server: "127.0.0.1:10" })],
      ["ca_certificate", () => ({ ca_certificate: caPem })],
    ] as const)("changing the %s resets the verification to unverified", async (_field, change) => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      expect(created.verification.status).toBe("failed");
      const changed = await client.registries.update(created.id, change());
      expect(changed.verification).toEqual(NEVER_VERIFIED);
      expect(await client.registries.get(created.id)).toEqual(changed);
    });

    it("changing the name, email or enabled keeps the verification", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      for (const change of [{ name: `renamed ${hex()}` }, { email: "robot@example.com" }, { enabled: false }, { enabled: true }]) {
        expect((await client.registries.update(created.id, change)).verification, JSON.stringify(change)).toEqual(created.verification);
      }
    });

    it("a credential change with ?verify=true records the new check instead", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }));
      const changed = await client.registries.update(created.id, { password: `pw-${hex()}` }, { verify: true });
      expect(changed.verification).toEqual({ status: "failed", checked_at: expect.stringMatching(ISO), error_code: "registry_unreachable", detail: null });
    });
  });

  // ─── Delete ──────────────────────────────────────────────────────────────────────────────

  describe("delete: a registry in use is kept unless forced", () => {
    it("409 registry_in_use with the linked image ids; the registry stays", async () => {
      const registry = await client.registries.create(registryBody());
      const a = await client.sandboxImages.create({ name: "a", image: "ghcr.io/org/a", registry_id: registry.id });
      const b = await client.sandboxImages.create({ name: "b", image: "ghcr.io/org/b", registry_id: registry.id });
      await client.sandboxImages.create({ name: "public", image: "ghcr.io/org/c" });

      const res = await fetch(`${app.url}/registries/${registry.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${app.token}`, "x-workspace-id": WS },
      });
      expect(res.status).toBe(409);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toEqual({
        type: "https://modbox.dev/problems/registry_in_use",
        title: "Conflict",
        status: 409,
        detail: expect.any(String),
        instance: `/registries/${registry.id}`,
        code: "registry_in_use",
        request_id: res.headers.get("x-request-id"),
        // Newest first.
        linked_image_ids: [b.id, a.id],
        linked_image_count: 2,
      });
      const explicit = await apiError(client.registries.delete(registry.id, { force: false }));
      expect([explicit.status, explicit.code]).toEqual([409, "registry_in_use"]);
      expect(await client.registries.get(registry.id)).toEqual(registry);
      expect((await client.sandboxImages.get(a.id)).registry_name).toBe(registry.name);
    });

    it("relinking or unlinking the images first lets a plain delete through", async () => {
      const registry = await client.registries.create(registryBody());
      const other = await client.registries.create(registryBody());
      const a = await client.sandboxImages.create({ name: "a", image: "ghcr.io/org/a", registry_id: registry.id });
      const b = await client.sandboxImages.create({ name: "b", image: "ghcr.io/org/b", registry_id: registry.id });
      await client.sandboxImages.update(a.id, { registry_id: other.id });
      expect((await apiError(client.registries.delete(registry.id))).problem).toMatchObject({ linked_image_ids: [b.id], linked_image_count: 1 });
      await client.sandboxImages.update(b.id, { registry_id: null });
      await expect(client.registries.delete(registry.id)).resolves.toBeUndefined();
      expect((await apiError(client.registries.get(registry.id))).status).toBe(404);
    });

    it("force=true deletes: 204; the images keep registry_id, registry_name becomes null", async () => {
      const registry = await client.registries.create(registryBody());
      const image = await client.sandboxImages.create({ name: "orphan", image: "ghcr.io/org/app", registry_id: registry.id });

      await expect(client.registries.delete(registry.id, { force: true })).resolves.toBeUndefined();
      expect((await apiError(client.registries.get(registry.id))).status).toBe(404);
      const after = await client.sandboxImages.get(image.id);
      expect(after).toEqual({ ...image, registry_id: registry.id, registry_name: null });
      expect((await client.sandboxImages.list({ registry_id: registry.id })).data.map((i) => i.id)).toEqual([image.id]);
      // The credential is destroyed, the name is free, and the tombstone cannot be linked again.
      const [row] = await rows(app, sql`select password_ciphertext from registries where id = ${registry.id}`);
      expect(row!.password_ciphertext).toBeNull();
      expect((await client.registries.create(registryBody({ name: registry.name }))).name).toBe(registry.name);
      const relink = await apiError(client.sandboxImages.create({ name: "late", image: "ghcr.io/org/app", registry_id: registry.id }));
      expect([relink.status, relink.code]).toEqual([422, "registry_not_found"]);
      expect((await apiError(client.registries.delete(registry.id, { force: true }))).status).toBe(404);
    });

    it("lists at most 100 linked ids, and counts them all", async () => {
      const ws = fresh();
      const registry = await ws.registries.create(registryBody());
      const made: string[] = [];
      for (let i = 0; i < 101; i++) made.push((await ws.sandboxImages.create({ name: `img ${i}`, image: "ghcr.io/org/app", registry_id: registry.id })).id);
      const problem = (await apiError(ws.registries.delete(registry.id))).problem as { linked_image_ids: string[]; linked_image_count: number };
      expect(problem.linked_image_count).toBe(101);
      expect(problem.linked_image_ids).toEqual(made.slice(1).reverse());
      await ws.registries.delete(registry.id, { force: true });
    });
  });

  // ─── Pull check (refusals decided before any network call) ───────────────────────────────

  describe("pull check: states that refuse before any network call", () => {
    /**
     * A registry on a loopback port that counts TCP connections and drops them: were it
     * contacted, the count would say so (and the answer would be `registry_unreachable`).
     */
    async function linked() {
      const registry = await client.registries.create(registryBody({ server: listener.host, username: "robot" }));
      const image = await client.sandboxImages.create({ name: "checked", image: `${listener.host}/team/app`, tag: "v1", registry_id: registry.id });
      return { registry, image };
    }
    const refused = (image: SandboxImage, code: string): PullCheck => ({
      image_id: image.id,
      reference: `${listener.host}/team/app:v1`,
      pullable: false,
      digest: null,
      media_type: null,
      error_code: code,
      detail: expect.any(String) as unknown as string,
      checked_at: expect.stringMatching(ISO) as unknown as string,
    });
    /** Runs `check` and asserts the registry saw no connection meanwhile. */
    async function withoutContact<T>(check: () => Promise<T>): Promise<T> {
      const before = listener.connections;
      const result = await check();
      await new Promise((r) => setTimeout(r, 50));
      expect(listener.connections - before, "connections to the registry").toBe(0);
      return result;
    }

    it("control: an enabled registry is contacted (and drops the connection here)", async () => {
      const { registry, image } = await linked();
      const before = listener.connections;
      expect(await client.sandboxImages.pullCheck(image.id)).toEqual(refused(image, "registry_unreachable"));
      expect(listener.connections).toBeGreaterThan(before);
      expect((await client.registries.get(registry.id)).last_used_at).toEqual(expect.stringMatching(ISO));
    });

    it("a disabled registry → registry_disabled, not contacted, not marked used", async () => {
      const { registry, image } = await linked();
      await client.registries.update(registry.id, { enabled: false });
      expect(await withoutContact(() => client.sandboxImages.pullCheck(image.id))).toEqual(refused(image, "registry_disabled"));
      expect((await client.registries.get(registry.id)).last_used_at).toBeNull();
    });

    it("a deleted registry → registry_deleted, never an anonymous pull", async () => {
      const { registry, image } = await linked();
      await client.registries.delete(registry.id, { force: true });
      expect(await withoutContact(() => client.sandboxImages.pullCheck(image.id))).toEqual(refused(image, "registry_deleted"));
    });

    it("a disabled image → image_disabled, whatever its registry", async () => {
      const { registry, image } = await linked();
      await client.sandboxImages.update(image.id, { enabled: false });
      expect(await withoutContact(() => client.sandboxImages.pullCheck(image.id))).toEqual(refused(image, "image_disabled"));
      await client.registries.update(registry.id, { enabled: false });
      expect(await withoutContact(() => client.sandboxImages.pullCheck(image.id))).toEqual(refused(image, "image_disabled"));
      expect((await client.registries.get(registry.id)).last_used_at).toBeNull();
    });

    it("a registry whose server changed after the link → registry_host_mismatch", async () => {
      const { registry, image } = await linked();
      await client.registries.update(registry.id, { server: "127.0.0.1:10" });
      expect(await withoutContact(() => client.sandboxImages.pullCheck(image.id))).toEqual(refused(image, "registry_host_mismatch"));
    });

    it("a missing image → 404", async () => {
      const err = await apiError(client.sandboxImages.pullCheck(randomUUID()));
      expect([err.status, err.code]).toEqual([404, "not_found"]);
    });

    it("pull credentials never contact the registry", async () => {
      const { image } = await linked();
      const credentials = await withoutContact(() => provisioner.provisioning.pullCredentials(image.id));
      expect(credentials.auth?.server).toBe(listener.host);
    });

    it("POST /verify on a disabled registry: 409 registry_disabled, not contacted", async () => {
      const { registry } = await linked();
      await client.registries.update(registry.id, { enabled: false });
      const err = await withoutContact(() => apiError(client.registries.verify(registry.id)));
      expect([err.status, err.code]).toEqual([409, "registry_disabled"]);
    });

    // "A disabled registry is never used: every use answers registry_disabled." Verify on save
    // logs in with the credential too, so it may not contact a disabled registry either: the
    // answer may be 409 registry_disabled, or the write without a login, never a login.
    it.each([
      ["PUT ?verify=true on a disabled registry", async (registry: Registry) => client.registries.update(registry.id, { name: `renamed ${hex()}` }, { verify: true })],
      ["PUT ?verify=true that disables the registry", async (registry: Registry) => client.registries.update(registry.id, { enabled: false, password: ghpToken() }, { verify: true })],
      ["POST ?verify=true of a registry created disabled", async () => client.registries.create(registryBody({ server: listener.host, enabled: false }), { verify: true })],
    ] as const)("%s: the registry is not contacted", async (_label, write) => {
      const { registry } = await linked();
      await client.registries.update(registry.id, { enabled: false });
      const outcome = await withoutContact(() => write(registry).then((value) => ({ value }), (error: unknown) => ({ error })));
      if ("error" in outcome) {
        expect(outcome.error).toBeInstanceOf(APIError);
        expect([(outcome.error as APIError).status, (outcome.error as APIError).code]).toEqual([409, "registry_disabled"]);
      } else {
        expect(outcome.value.verification.status).not.toBe("failed");
      }
    });
  });

  // ─── Pull credentials ────────────────────────────────────────────────────────────────────

  describe("pull credentials (provisioner scope)", () => {
    /** The audit rows of this test's provisioner for one image, oldest first. */
    async function events(imageId: string) {
      return rows(
        app,
        sql`select * from pull_credential_events where token_id = ${provisionerTokenId} and image_id = ${imageId} order by created_at, id`,
      );
    }
    const event = (image: SandboxImage, outcome: string) => ({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      workspace_id: WS,
      image_id: image.id,
      registry_id: image.registry_id,
      token_id: provisionerTokenId,
      outcome,
      created_at: expect.anything(),
    });

    async function rawPullCredentials(imageId: string, token = provisionerToken) {
      const res = await fetch(`${app.url}/sandbox-images/${imageId}/pull-credentials`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "x-workspace-id": WS },
      });
      return { res, body: (await res.json()) as Record<string, unknown> };
    }

    it("a workspace token gets 403 insufficient_scope; a provisioner of another workspace 403 workspace_forbidden", async () => {
      const image = await client.sandboxImages.create({ name: "public", image: "ubuntu" });
      for (const token of [app.token, await app.createToken({ workspaceIds: [WS] })]) {
        const err = await apiError(app.client(WS, token).provisioning.pullCredentials(image.id));
        expect([err.status, err.code]).toEqual([403, "insufficient_scope"]);
      }
      const elsewhere = await app.createToken({ workspaceIds: [`ws-other-${hex()}`], scope: "provisioner" });
      const err = await apiError(app.client(WS, elsewhere).provisioning.pullCredentials(image.id));
      expect([err.status, err.code]).toEqual([403, "workspace_forbidden"]);
      const missing = await apiError(provisioner.provisioning.pullCredentials(randomUUID()));
      expect([missing.status, missing.code]).toEqual([404, "not_found"]);
    });

    it("a public image: 200 with registry and auth null, no-store, recorded", async () => {
      const image = await client.sandboxImages.create({ name: "public", image: "ubuntu", tag: "24.04" });
      const { res, body } = await rawPullCredentials(image.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(body).toEqual({ image_id: image.id, reference: "docker.io/library/ubuntu:24.04", registry: null, auth: null });
      expect(await events(image.id)).toEqual([event(image, "issued")]);
    });

    it("a linked registry: 200 with the credential in every runtime format, no-store, recorded, last_used_at set", async () => {
      // `?>` and `~` make standard base64 use `+` and `/`, which the URL alphabet must replace.
      const password = `ghp_${hex(12)}??>~~~"quoted"`;
      const registry = await client.registries.create(registryBody({ username: "octocat", password, email: "octo@example.com" }));
      const image = await client.sandboxImages.create({ name: "private", image: "ghcr.io/your-org/your-image", registry_id: registry.id });
      expect(registry.last_used_at).toBeNull();

      const before = Date.now();
      const { res, body } = await rawPullCredentials(image.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const basic = base64(`octocat:${password}`);
      expect(body).toEqual({
        image_id: image.id,
        reference: "ghcr.io/your-org/your-image:latest",
        registry: { id: registry.id, name: registry.name, server: "ghcr.io" },
        auth: {
          server: "ghcr.io",
          x_registry_auth: expect.any(String),
          docker_config: { auths: { "ghcr.io": { auth: basic, email: "octo@example.com" } } },
          kubernetes_secret: {
            apiVersion: "v1",
            kind: "Secret",
            type: "kubernetes.io/dockerconfigjson",
            metadata: { name: `modbox-pull-${image.id}` },
            data: { ".dockerconfigjson": expect.any(String) },
          },
        },
      });
      const auth = body.auth as { x_registry_auth: string; kubernetes_secret: { data: { ".dockerconfigjson": string } } };
      expect(auth.x_registry_auth).not.toMatch(/[+/]/);
      expect(decodePaddedBase64Url(auth.x_registry_auth)).toEqual({ username: "octocat", password, serveraddress: "ghcr.io" });
      expect(JSON.parse(Buffer.from(auth.kubernetes_secret.data[".dockerconfigjson"], "base64").toString("utf8"))).toEqual({
        auths: { "ghcr.io": { username: "octocat", password, email: "octo@example.com", auth: basic } },
      });

      const used = await client.registries.get(registry.id);
      expect(used).toEqual({ ...registry, last_used_at: expect.stringMatching(ISO) });
      expect(Date.parse(used.last_used_at!)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(used.last_used_at!)).toBeLessThanOrEqual(Date.now());

      const recorded = await events(image.id);
      expect(recorded).toEqual([event(image, "issued")]);
      expect(Object.keys(recorded[0]!).sort()).toEqual(EVENT_COLUMNS);
      const text = JSON.stringify(recorded);
      for (const form of secretForms("octocat", password)) expect(text).not.toContain(form);
    });

    it("Docker Hub: the config key and serveraddress are https://index.docker.io/v1/; the SDK answers the same", async () => {
      const password = `dckr_pat_${hex()}`;
      const hub = await client.registries.create(registryBody({ server: "registry-1.docker.io", username: "octocat", password }));
      const image = await client.sandboxImages.create({ name: "hub", image: "ubuntu", registry_id: hub.id });
      const credentials = await provisioner.provisioning.pullCredentials(image.id);
      expect(credentials).toMatchObject({
        reference: "docker.io/library/ubuntu:latest",
        registry: { id: hub.id, name: hub.name, server: "docker.io" },
        auth: { server: "docker.io", docker_config: { auths: { "https://index.docker.io/v1/": { auth: base64(`octocat:${password}`) } } } },
      });
      expect(Object.keys(credentials.auth!.docker_config.auths)).toEqual(["https://index.docker.io/v1/"]);
      expect(decodePaddedBase64Url(credentials.auth!.x_registry_auth)).toEqual({
        username: "octocat",
        password,
        serveraddress: "https://index.docker.io/v1/",
      });
    });

    it("refusals: 409 image_disabled, registry_disabled, registry_host_mismatch, registry_deleted; each recorded, none marks the registry used", async () => {
      const password = ghpToken();
      const registry = await client.registries.create(registryBody({ username: "octocat", password }));
      const image = await client.sandboxImages.create({ name: "refused", image: "ghcr.io/org/app", registry_id: registry.id });
      const expectRefused = async (code: string) => {
        const { res, body } = await rawPullCredentials(image.id);
        expect(res.status, code).toBe(409);
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect(body).toMatchObject({ status: 409, code, type: `https://modbox.dev/problems/${code}` });
        for (const form of secretForms("octocat", password)) expect(JSON.stringify(body)).not.toContain(form);
        const err = await apiError(provisioner.provisioning.pullCredentials(image.id));
        expect([err.status, err.code]).toEqual([409, code]);
      };

      await client.sandboxImages.update(image.id, { enabled: false });
      await expectRefused("image_disabled");
      await client.sandboxImages.update(image.id, { enabled: true });

      await client.registries.update(registry.id, { enabled: false });
      await expectRefused("registry_disabled");
      await client.registries.update(registry.id, { enabled: true });

      await client.registries.update(registry.id, { server: "ghcr.io:5000" });
      await expectRefused("registry_host_mismatch");
      await client.registries.update(registry.id, { server: "ghcr.io" });
      expect((await client.registries.get(registry.id)).last_used_at).toBeNull();

      await client.registries.delete(registry.id, { force: true });
      await expectRefused("registry_deleted");

      expect(await events(image.id)).toEqual(
        ["image_disabled", "registry_disabled", "registry_host_mismatch", "registry_deleted"].flatMap((code) => [
          event(image, code),
          event(image, code),
        ]),
      );
      const text = JSON.stringify(await events(image.id));
      for (const form of secretForms("octocat", password)) expect(text).not.toContain(form);
    });

    it("last_used_at never moves backwards and does not change updated_at", async () => {
      const registry = await client.registries.create(registryBody());
      const image = await client.sandboxImages.create({ name: "used twice", image: "ghcr.io/org/app", registry_id: registry.id });
      await provisioner.provisioning.pullCredentials(image.id);
      const first = (await client.registries.get(registry.id)).last_used_at!;
      await new Promise((r) => setTimeout(r, 5));
      await provisioner.provisioning.pullCredentials(image.id);
      const second = await client.registries.get(registry.id);
      expect(Date.parse(second.last_used_at!)).toBeGreaterThan(Date.parse(first));
      expect(second.updated_at).toBe(registry.updated_at);
      expect(await events(image.id)).toEqual([event(image, "issued"), event(image, "issued")]);
    });
  });

  it("no registry answer of this file carried a password property (response validation is on too)", async () => {
    const all: Registry[] = [];
    for await (const r of client.registries.list({ limit: 200 })) all.push(r);
    expect(all.length).toBeGreaterThan(20);
    for (const r of all) expect(Object.keys(r).sort()).toEqual([
      "ca_certificate",
      "created_at",
      "email",
      "enabled",
      "id",
      "last_used_at",
      "name",
      "provider",
      "server",
      "updated_at",
      "username",
      "verification",
      "warnings",
    ]);
  });
});
