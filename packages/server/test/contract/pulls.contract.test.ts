import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { APIError, type ModboxClient, type PullCheck, type Registry, type SandboxImage } from "@modbox/sdk";
import type { TestApp } from "@modbox/testkit/app";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ISO, hex, ghpToken, base64, registryBody, apiError, useRulesApp } from "./rules-app.js";

/**
 * Pulls, through the SDK (and raw fetch where the exact answer matters) against the real app:
 * - pull checks answer `registry_disabled`, `registry_deleted`, `image_disabled`,
 *   `registry_host_mismatch` before any network call;
 * - pull credentials: provisioner scope only, refusals with their codes, every runtime format,
 *   `Cache-Control: no-store`, an audit row per call (never the secret), `last_used_at` set.
 *
 * The registries live on a loopback port that counts the connections it drops, to prove the
 * refusals happen before any call (the test app's outbound policy allows loopback).
 */
const EVENT_COLUMNS = ["created_at", "id", "image_id", "outcome", "registry_id", "token_id", "workspace_id"];

/** RFC 4648 §5 with padding, as the Docker daemon (Go's base64.URLEncoding) reads it. */
function decodePaddedBase64Url(text: string): unknown {
  expect(text).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
  expect(text.length % 4).toBe(0);
  return JSON.parse(Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
}

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

let listener: Awaited<ReturnType<typeof startCountingListener>>;
beforeAll(async () => {
  listener = await startCountingListener();
});
afterAll(() => listener?.close());

describe.each(backends)("pulls contract on %s", (backend) => {
  const rules = useRulesApp(backend);
  const { WS } = rules;
  let app: TestApp;
  let client: ModboxClient;
  let provisioner: ModboxClient;
  let provisionerToken: string;
  let provisionerTokenId: string;
  beforeAll(() => {
    ({ app, client, provisioner, provisionerToken, provisionerTokenId } = rules);
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
    const refused = (image: SandboxImage, code: PullCheck["error_code"]): PullCheck => ({
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
      return rowsOf(await app.database.db.execute(sql`select * from pull_credential_events where token_id = ${provisionerTokenId} and image_id = ${imageId} order by created_at, id`));
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
      expect(body).toEqual({ image_id: image.id, reference: "docker.io/library/ubuntu:24.04", registry: null, auth: null, expires_at: null });
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
        registry: { id: registry.id, name: registry.name, server: "ghcr.io", insecure: false },
        // A basic registry hands out its stored credential, which has no known expiry.
        expires_at: null,
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
        registry: { id: hub.id, name: hub.name, server: "docker.io", insecure: false },
        auth: { server: "docker.io", docker_config: { auths: { "https://index.docker.io/v1/": { auth: base64(`octocat:${password}`) } } } },
      });
      expect(Object.keys(credentials.auth!.docker_config.auths)).toEqual(["https://index.docker.io/v1/"]);
      expect(decodePaddedBase64Url(credentials.auth!.x_registry_auth)).toEqual({
        username: "octocat",
        password,
        serveraddress: "https://index.docker.io/v1/",
      });
    });

    // A stored credential that no longer decrypts, corrupted in the database two ways: another
    // registry's ciphertext (same key, but bound to that registry, so authentication fails) and
    // an envelope that does not parse.
    it.each([
      ["another registry's ciphertext", (otherId: string) => sql`(select password_ciphertext from registries where id = ${otherId})`],
      ["a garbled envelope", () => sql`'v1:' || password_key_id || ':not-a-payload'`],
    ] as const)("a credential that does not decrypt (%s): 500 credential_undecryptable, recorded; the pull check answers it without contacting the registry; never marked used", async (_label, corrupted) => {
      const registry = await client.registries.create(registryBody({ server: listener.host, username: "octocat" }));
      const other = await client.registries.create(registryBody());
      const image = await client.sandboxImages.create({ name: "undecryptable", image: `${listener.host}/team/app`, tag: "v1", registry_id: registry.id });
      await app.database.db.execute(sql`update registries set password_ciphertext = ${corrupted(other.id)} where id = ${registry.id}`);

      const { res, body } = await rawPullCredentials(image.id);
      expect(res.status).toBe(500);
      expect(body).toMatchObject({ status: 500, code: "credential_undecryptable" });
      expect(await events(image.id)).toEqual([event(image, "credential_undecryptable")]);

      const connectionsBefore = listener.connections;
      expect(await client.sandboxImages.pullCheck(image.id)).toMatchObject({ pullable: false, digest: null, error_code: "credential_undecryptable" });
      await new Promise((r) => setTimeout(r, 50));
      expect(listener.connections - connectionsBefore, "connections to the registry").toBe(0);
      expect((await client.registries.get(registry.id)).last_used_at).toBeNull();
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
});
