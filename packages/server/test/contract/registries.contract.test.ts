import { randomUUID } from "node:crypto";
import {
  ConflictError,
  NotFoundError,
  UnprocessableEntityError,
  type ModboxClient,
  type Registry,
} from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { makeCaCertificate } from "@modbox/testkit/certificates";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { collectAtMost } from "@modbox/testkit/paging";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hex, ghpToken, base64, registryBody, apiError, expectFieldError, useRulesApp } from "./rules-app.js";

/** Registries through the SDK against the real app (response validation on), per backend. */
describe.each(backends)("registries contract on %s", (backend) => {
  let app: TestApp;
  let client: ModboxClient;

  beforeAll(async () => {
    app = await startTestApp(backend);
    client = app.client(`ws-${randomUUID()}`);
  });
  afterAll(() => app?.close());

  const ghcr = () => ({
    name: `GitHub Container Registry ${randomUUID()}`,
    server: "ghcr.io",
    username: "your-github-username",
    password: `test-${randomUUID()}`,
    email: "you@yourcompany.com",
  });

  it("creates a registry: 201 with every documented field and no password", async () => {
    const input = ghcr();
    const registry = await client.registries.create(input);
    expect(registry).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: input.name,
      server: "ghcr.io",
      username: "your-github-username",
      email: "you@yourcompany.com",
      enabled: true,
      // No auth_type sent: basic, as every registry was before cloud types.
      auth_type: "basic",
      provider: "ghcr",
      ca_certificate: null,
      verification: { status: "unverified", checked_at: null, error_code: null, detail: null },
      // The test password is not a GitHub token: saved, with the provider's advice.
      warnings: [{ code: "ghcr_token_format", field: "password", message: expect.any(String) }],
      last_used_at: null,
      created_at: expect.any(String),
      updated_at: registry.created_at,
    });
    expect(new Date(registry.created_at).toISOString()).toBe(registry.created_at);
    expect(JSON.stringify(registry.warnings)).not.toContain(input.password);
    expect(JSON.stringify(registry)).not.toContain(input.password);
  });

  it("answers 201 with a Location header", async () => {
    const response = await fetch(`${app.url}/registries`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.token}`, "x-workspace-id": "ws-location", "content-type": "application/json" },
      body: JSON.stringify(ghcr()),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Registry;
    expect(response.headers.get("location")).toBe(`/registries/${body.id}`);
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("defaults email to null and enabled to true; honours enabled: false", async () => {
    const { email: _omit, ...input } = ghcr();
    const plain = await client.registries.create(input);
    expect(plain.email).toBeNull();
    expect(plain.enabled).toBe(true);
    const disabled = await client.registries.create({ ...ghcr(), enabled: false });
    expect(disabled.enabled).toBe(false);
  });

  it("gets a registry by id, and 404 not_found for a missing one", async () => {
    const created = await client.registries.create(ghcr());
    expect(await client.registries.get(created.id)).toEqual(created);
    const missing = await client.registries.get(randomUUID()).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe("not_found");
    expect((missing as NotFoundError).requestId).toBeTruthy();
  });

  it("409 registry_name_taken for a name already used in the workspace, not in another one", async () => {
    const input = ghcr();
    await client.registries.create(input);
    const clash = await client.registries.create({ ...input, password: "other" }).catch((e: unknown) => e);
    expect(clash).toBeInstanceOf(ConflictError);
    expect((clash as ConflictError).code).toBe("registry_name_taken");
    await expect(app.client(`ws-${randomUUID()}`).registries.create(input)).resolves.toMatchObject({ name: input.name });
  });

  it("updates only the fields sent (the seed's password rotation)", async () => {
    const created = await client.registries.create(ghcr());
    await new Promise((r) => setTimeout(r, 5));
    const rotated = await client.registries.update(created.id, { password: "new_token_here" });
    expect(rotated).toEqual({ ...created, updated_at: expect.any(String) });
    expect(rotated.updated_at > created.updated_at).toBe(true);

    const renamed = await client.registries.update(created.id, { name: `${created.name} (renamed)`, email: null, enabled: false });
    expect(renamed).toMatchObject({ name: `${created.name} (renamed)`, email: null, enabled: false, server: created.server, username: created.username });
  });

  it("rotating the password stores a new ciphertext", async () => {
    const created = await client.registries.create(ghcr());
    const before = await storedCiphertext(app, created.id);
    await client.registries.update(created.id, { password: "rotated" });
    const after = await storedCiphertext(app, created.id);
    expect(before).toMatch(/^v1:/);
    expect(after).toMatch(/^v1:/);
    expect(after).not.toBe(before);
  });

  it("409 when a rename takes another registry's name; 404 when updating a missing registry", async () => {
    const a = await client.registries.create(ghcr());
    const b = await client.registries.create(ghcr());
    await expect(client.registries.update(b.id, { name: a.name })).rejects.toMatchObject({ status: 409, code: "registry_name_taken" });
    await expect(client.registries.update(randomUUID(), { enabled: false })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("422 for an empty update", async () => {
    const created = await client.registries.create(ghcr());
    const err = await client.registries.update(created.id, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessableEntityError);
    expect((err as UnprocessableEntityError).code).toBe("validation_failed");
  });

  it("deletes: 204, then 404, and the name is free again", async () => {
    const created = await client.registries.create(ghcr());
    await client.registries.delete(created.id);
    await expect(client.registries.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.registries.delete(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.registries.create({ ...ghcr(), name: created.name })).resolves.toMatchObject({ name: created.name });
    expect(await storedCiphertext(app, created.id)).toBeNull();
  });

  it("lists newest first with cursor pagination and filters", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    const made: Registry[] = [];
    for (let i = 0; i < 7; i++) {
      made.push(await ws.registries.create({ ...ghcr(), server: i % 2 ? "ghcr.io" : "registry-1.docker.io", enabled: i !== 3 }));
    }
    const first = await ws.registries.list({ limit: 3 });
    expect(first.data.map((r) => r.id)).toEqual(made.slice(-3).reverse().map((r) => r.id));
    expect(first.nextCursor).toEqual(expect.any(String));

    // Bounded: pages that never end fail here instead of paging on.
    const all = (await collectAtMost(ws.registries.list({ limit: 2 }), made.length)).map((r) => r.id);
    expect(all).toEqual(made.map((r) => r.id).reverse());

    const ghcrOnly = await collectAtMost(ws.registries.list({ limit: 1, server: "ghcr.io" }), made.length);
    expect(ghcrOnly.map((r) => r.id)).toEqual(made.filter((r) => r.server === "ghcr.io").map((r) => r.id).reverse());

    const disabled = await ws.registries.list({ enabled: false });
    expect(disabled.data.map((r) => r.id)).toEqual([made[3]!.id]);
    expect(disabled.nextCursor).toBeNull();
  });

  it("422 invalid_cursor for a cursor replayed with other filters or not issued by the server", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    for (let i = 0; i < 3; i++) await ws.registries.create(ghcr());
    const page = await ws.registries.list({ limit: 1 });
    const cursor = page.nextCursor!;
    await expect(ws.registries.list({ cursor, enabled: true })).rejects.toMatchObject({ status: 422, code: "invalid_cursor" });
    await expect(ws.registries.list({ cursor: "bm90LWEtY3Vyc29y" })).rejects.toMatchObject({ status: 422, code: "invalid_cursor" });
  });

  it("a page is stable while rows are inserted before it", async () => {
    const ws = app.client(`ws-${randomUUID()}`);
    for (let i = 0; i < 4; i++) await ws.registries.create(ghcr());
    const first = await ws.registries.list({ limit: 2 });
    await ws.registries.create(ghcr());
    const second = await first.getNextPage();
    const seen = [...first.data, ...second.data].map((r) => r.id);
    expect(new Set(seen).size).toBe(4);
  });
});

async function storedCiphertext(app: TestApp, id: string): Promise<string | null> {
  const [row] = rowsOf(await app.database.db.execute(sql`select password_ciphertext from registries where id = ${id}`));
  return (row?.password_ciphertext as string | null | undefined) ?? null;
}

/**
 * The registry rules that need no registry on the network, through the SDK against the real app:
 * - registry servers are normalised as users type them, and hosts that disguise an address are
 *   refused (422 naming `/body/server`);
 * - the provider is recognised from the server; credentials a provider certainly refuses are 422
 *   errors naming the field, likely mistakes are warnings stored with the registry;
 * - a CA certificate must be PEM that parses, and comes back as stored;
 * - a registry still in use is not deleted unless forced, and its images then keep `registry_id`.
 */
describe.each(backends)("registry rules contract on %s", (backend) => {
  const rules = useRulesApp(backend);
  const { WS } = rules;
  let app: TestApp;
  let client: ModboxClient;
  let caPem: string;
  let caPem2: string;
  beforeAll(() => {
    ({ app, client } = rules);
    caPem = makeCaCertificate("modbox-test-ca-1");
    caPem2 = makeCaCertificate("modbox-test-ca-2");
  });

  /** A client on a workspace nobody else uses. */
  const fresh = () => app.client(`ws-rules-${hex()}`);
  const serviceAccountKey = () =>
    JSON.stringify({
      type: "service_account",
      project_id: "modbox-test",
      client_email: "puller@modbox-test.iam.gserviceaccount.com",
      private_key: `-----BEGIN PRIVATE KEY-----\n${hex(32)}\n-----END PRIVATE KEY-----\n`,
    });

  async function storedServer(id: string): Promise<string> {
    const [row] = rowsOf(await app.database.db.execute(sql`select server from registries where id = ${id}`));
    return String(row!.server);
  }

  // ─── Server normalisation ────────────────────────────────────────────────────────────────

  describe("registry servers are stored as the bare lowercase host[:port] (and any repository prefix), without the default port", () => {
    it.each([
      ["https://GHCR.io/", "ghcr.io", "ghcr"],
      ["GHCR.IO", "ghcr.io", "ghcr"],
      ["ghcr.io/", "ghcr.io", "ghcr"],
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
      // The default port is no port: the same registry, recognised as what it is.
      ["ghcr.io:443", "ghcr.io", "ghcr"],
      ["HTTPS://GHCR.io:443/v2/", "ghcr.io", "ghcr"],
      ["index.docker.io:443", "docker.io", "dockerhub"],
      ["[::1]:443", "[::1]", "self_hosted"],
      // Any other port as written; a single label keeps even :443 (without it, a Docker Hub namespace).
      ["ghcr.io:5000", "ghcr.io:5000", "self_hosted"],
      ["myregistry:443", "myregistry:443", "self_hosted"],
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
      // A repository prefix is a server (repository-prefixes.contract.test.ts); these are not.
      "ghcr.io/Your-Org",
      "ghcr.io/your-org/",
      "ghcr.io/your-org/your-image:latest",
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
      const [row] = rowsOf(await app.database.db.execute(sql`select ca_certificate from registries where id = ${created.id}`));
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

    it("a registry used only by disabled images is in use too: 409, and the images keep it for when they are enabled again", async () => {
      const registry = await client.registries.create(registryBody());
      const older = await client.sandboxImages.create({ name: "dormant a", image: "ghcr.io/org/a", registry_id: registry.id, enabled: false });
      const newer = await client.sandboxImages.create({ name: "dormant b", image: "ghcr.io/org/b", registry_id: registry.id });
      await client.sandboxImages.update(newer.id, { enabled: false });

      const refused = await apiError(client.registries.delete(registry.id));
      expect([refused.status, refused.code]).toEqual([409, "registry_in_use"]);
      expect(refused.problem).toMatchObject({ linked_image_ids: [newer.id, older.id], linked_image_count: 2 });
      expect(await client.registries.get(registry.id)).toEqual(registry);
      // Deleted, the registry would have turned these pulls into registry_deleted once re-enabled.
      expect(await client.sandboxImages.update(older.id, { enabled: true })).toMatchObject({ registry_id: registry.id, registry_name: registry.name });
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
      const [row] = rowsOf(await app.database.db.execute(sql`select password_ciphertext from registries where id = ${registry.id}`));
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

  it("no registry answer of this file carried a password property (response validation is on too)", async () => {
    // Bounded (this file makes well under 1000 registries in its workspace): pages that never end fail.
    const all = await collectAtMost(client.registries.list({ limit: 200 }), 1000);
    expect(all.length).toBeGreaterThan(20);
    for (const r of all) expect(Object.keys(r).sort()).toEqual([
      "auth_type",
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
