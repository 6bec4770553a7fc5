import type { ModboxClient } from "@modbox/sdk";
import { backends } from "@modbox/testkit/databases";
import { beforeAll, describe, expect, it } from "vitest";
import { parseInsecureRegistries } from "../../src/registry-protocol/insecure-registries.js";
import { ISO, apiError, expectFieldError, ghpToken, hex, registryBody, useRulesApp } from "./rules-app.js";

/**
 * Servers as users write them, through the SDK against the real app on each database:
 * - `http://` is refused (422 at /body/server, saying credentials go over HTTPS only and naming
 *   MODBOX_INSECURE_REGISTRIES) unless the operator listed the host; a listed one is stored as
 *   `http://host[:port]`, warned `insecure_registry`, verified over http, and its pull
 *   credentials say `insecure`;
 * - `host:443` is `host`: the same registry, the same provider, linked to `host` and
 *   `host:443` images alike; names stay the only unique thing.
 *
 * The app's outbound policy lists `registry.lan:5000`, `registry.lan` (port 80), the range
 * 10.0.0.0/8 and 127.0.0.1:9 (where nothing listens: a plain-HTTP registry that is down).
 */
const INSECURE = "registry.lan:5000, registry.lan, 10.0.0.0/8, 127.0.0.1:9";

function insecureRegistries() {
  const parsed = parseInsecureRegistries(INSECURE);
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return parsed.registries;
}

describe.each(backends)("registry servers contract on %s", (backend) => {
  const rules = useRulesApp(backend, { outbound: { allowPrivate: true, timeoutMs: 5000, insecureRegistries: insecureRegistries() } });
  let client: ModboxClient;
  let provisioner: ModboxClient;
  beforeAll(() => {
    ({ client, provisioner } = rules);
  });
  /** A client on a workspace of its own, so lists hold only what the test made. */
  const fresh = () => rules.app.client(`ws-servers-${hex()}`);

  // ─── http:// ─────────────────────────────────────────────────────────────────────────────

  describe("http:// servers", () => {
    it.each(["http://ghcr.io", "http://registry.lan:5001", "HTTP://other.lan:5000/v2/", "http://11.0.0.1:5000", "http://127.0.0.1:5000"])(
      "%s (not listed) → 422 at /body/server: credentials go over HTTPS only, and the switch is named; nothing stored, on create and on update",
      async (server) => {
        const ws = fresh();
        const refused = await apiError(ws.registries.create(registryBody({ server })));
        expectFieldError(refused, "/body/server");
        expect(refused.detail).toBe("Credentials are sent to registries over HTTPS only.");
        expect(refused.problem?.errors?.[0]?.message).toMatch(/^credentials are sent over HTTPS only: .*MODBOX_INSECURE_REGISTRIES/);
        expect((await ws.registries.list()).data).toEqual([]);

        const existing = await ws.registries.create(registryBody());
        expectFieldError(await apiError(ws.registries.update(existing.id, { server })), "/body/server");
        expect(await ws.registries.get(existing.id)).toEqual(existing);
      },
    );

    it("Docker Hub over http is refused whatever the list: it speaks https only", async () => {
      const refused = await apiError(fresh().registries.create(registryBody({ server: "http://index.docker.io/v1/", password: `dckr_pat_${hex()}` })));
      expectFieldError(refused, "/body/server");
      expect(refused.problem?.errors?.[0]?.message).toMatch(/Docker Hub is served over https only/);
    });

    it.each([
      ["http://Registry.LAN:5000/v2/", "http://registry.lan:5000"],
      ["http://registry.lan", "http://registry.lan"],
      ["http://registry.lan:80/", "http://registry.lan"],
      ["http://10.1.2.3:5000", "http://10.1.2.3:5000"],
    ])("%s (listed) → stored as %s, self_hosted, warned insecure_registry", async (typed, stored) => {
      const created = await client.registries.create(registryBody({ server: typed, username: "robot", password: `pw-${hex()}` }));
      expect(created).toMatchObject({ server: stored, provider: "self_hosted" });
      expect(created.warnings).toEqual([{ code: "insecure_registry", field: "server", message: expect.stringMatching(/plain HTTP/) }]);
      expect(await client.registries.get(created.id)).toEqual(created);
    });

    it("the scheme is part of the server: http://host:port and host:port are two registries to filter on", async () => {
      const ws = fresh();
      const plain = await ws.registries.create(registryBody({ server: "http://registry.lan:5000" }));
      const tls = await ws.registries.create(registryBody({ server: "registry.lan:5000" }));
      expect(tls.warnings).toEqual([]);
      expect((await ws.registries.list({ server: "HTTP://registry.lan:5000/" })).data.map((r) => r.id)).toEqual([plain.id]);
      expect((await ws.registries.list({ server: "registry.lan:5000" })).data.map((r) => r.id)).toEqual([tls.id]);
    });

    it("?verify=true speaks http to a listed server: a refused connection, not a TLS error, and its detail stored", async () => {
      const created = await client.registries.create(registryBody({ server: "http://127.0.0.1:9", username: "robot" }), { verify: true });
      expect(created.verification).toEqual({
        status: "failed",
        checked_at: expect.stringMatching(ISO),
        error_code: "registry_unreachable",
        detail: "127.0.0.1:9: the connection was refused",
      });
      expect((await client.registries.get(created.id)).verification).toEqual(created.verification);
    });

    it("an image links to an http registry by host and port, the http default port optional; pull credentials say insecure", async () => {
      const plain = await client.registries.create(registryBody({ server: "http://registry.lan", username: "robot", password: `pw-${hex()}` }));
      for (const image of ["registry.lan/team/app", "registry.lan:80/team/app"]) {
        expect((await client.sandboxImages.create({ name: `img ${hex()}`, image, registry_id: plain.id })).registry_id).toBe(plain.id);
      }
      const mismatch = await apiError(client.sandboxImages.create({ name: `img ${hex()}`, image: "registry.lan:443/team/app", registry_id: plain.id }));
      expect([mismatch.status, mismatch.code]).toEqual([422, "registry_host_mismatch"]);

      const onPort = await client.registries.create(registryBody({ server: "http://registry.lan:5000", username: "robot", password: `pw-${hex()}` }));
      const image = await client.sandboxImages.create({ name: `img ${hex()}`, image: "registry.lan:5000/team/app", tag: "v1", registry_id: onPort.id });
      const credentials = await provisioner.provisioning.pullCredentials(image.id);
      expect(credentials.reference).toBe("registry.lan:5000/team/app:v1");
      expect(credentials.registry).toEqual({ id: onPort.id, name: onPort.name, server: "http://registry.lan:5000", insecure: true });
      // No runtime format carries a scheme: the credential is keyed by the bare host:port.
      expect(credentials.auth?.server).toBe("registry.lan:5000");
      expect(Object.keys(credentials.auth?.docker_config.auths ?? {})).toEqual(["registry.lan:5000"]);
    });
  });

  // ─── :443 ────────────────────────────────────────────────────────────────────────────────

  describe("the default port", () => {
    it("ghcr.io:443 is ghcr.io: GHCR's provider and rules", async () => {
      const created = await client.registries.create(registryBody({ server: "GHCR.io:443", password: "hunter2" }));
      expect(created).toMatchObject({ server: "ghcr.io", provider: "ghcr" });
      expect(created.warnings.map((w) => w.code)).toEqual(["ghcr_token_format"]);
    });

    it("names stay the only unique thing: the same name is 409 whatever the spelling; the same server under two names is fine", async () => {
      const ws = fresh();
      const first = await ws.registries.create(registryBody({ name: "GHCR", server: "ghcr.io:443" }));
      const taken = await apiError(ws.registries.create(registryBody({ name: "GHCR", server: "ghcr.io" })));
      expect([taken.status, taken.code]).toEqual([409, "registry_name_taken"]);
      const second = await ws.registries.create(registryBody({ name: "GHCR too", server: "https://ghcr.io/" }));
      expect([first.server, second.server]).toEqual(["ghcr.io", "ghcr.io"]);
      for (const filter of ["ghcr.io", "ghcr.io:443", "https://GHCR.io:443/"]) {
        expect((await ws.registries.list({ server: filter })).data.map((r) => r.id), filter).toEqual([second.id, first.id]);
      }
    });

    it("sending the same server with :443 changes nothing: the verification is kept", async () => {
      // Whatever answers on 127.0.0.1:443 (most likely nothing), the outcome is recorded and then kept.
      const created = await client.registries.create(registryBody({ server: "127.0.0.1" }), { verify: true });
      expect(created.verification.checked_at).toMatch(ISO);
      const written = await client.registries.update(created.id, { server: "https://127.0.0.1:443/" });
      expect(written.server).toBe("127.0.0.1");
      expect(written.verification).toEqual(created.verification);
      const moved = await client.registries.update(created.id, { server: "ghcr.io:443", password: ghpToken() });
      expect(moved.server).toBe("ghcr.io");
    });

    it("an image on ghcr.io:443 links to ghcr.io and the other way round; its credential is keyed as the image spells its host", async () => {
      const plain = await client.registries.create(registryBody({ server: "ghcr.io" }));
      const withPort = await client.registries.create(registryBody({ server: "ghcr.io:443" }));
      const image = await client.sandboxImages.create({ name: `img ${hex()}`, image: "ghcr.io:443/org/app", registry_id: plain.id });
      await client.sandboxImages.create({ name: `img ${hex()}`, image: "ghcr.io/org/app", registry_id: withPort.id });
      const mismatch = await apiError(client.sandboxImages.create({ name: `img ${hex()}`, image: "ghcr.io:5000/org/app", registry_id: plain.id }));
      expect(mismatch.code).toBe("registry_host_mismatch");

      const credentials = await provisioner.provisioning.pullCredentials(image.id);
      expect(credentials.reference).toBe("ghcr.io:443/org/app:latest");
      expect(credentials.registry).toMatchObject({ server: "ghcr.io", insecure: false });
      expect(Object.keys(credentials.auth?.docker_config.auths ?? {})).toEqual(["ghcr.io:443"]);
    });
  });
});
