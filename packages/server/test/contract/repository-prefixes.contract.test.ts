import type { ModboxClient, PullCredentials } from "@modbox/sdk";
import { backends } from "@modbox/testkit/databases";
import { decodeGoStdEncoding, decodeGoUrlEncoding } from "@modbox/testkit/exchanges";
import { beforeAll, describe, expect, it } from "vitest";
import { apiError, expectFieldError, ghpToken, hex, registryBody, useRulesApp } from "./rules-app.js";

/**
 * Several credentials per host: a registry's `server` may carry a repository path prefix
 * (`ghcr.io/acme`), through the SDK against the real app on each database. Written servers are
 * normalised with their prefix; several registries on one host coexist; an image links only to
 * a registry whose prefix covers its repository at a path-segment boundary (422 naming both
 * otherwise), and a registry moved away since is refused at pull time (409); pull credentials
 * key Docker's formats by host and the Kubernetes secret by host and path; `?server=` lists a
 * server and the prefixes under it.
 */

/** What the kubelet reads from a `kubernetes.io/dockerconfigjson` secret. */
function kubeletAuths(credentials: PullCredentials): Record<string, { username: string; password: string; auth: string }> {
  const secret = credentials.auth!.kubernetes_secret;
  return (JSON.parse(decodeGoStdEncoding(secret.data[".dockerconfigjson"]).toString("utf8")) as { auths: never }).auths;
}

describe.each(backends)("repository prefixes contract on %s", (backend) => {
  const rules = useRulesApp(backend);
  let client: ModboxClient;
  let provisioner: ModboxClient;
  beforeAll(() => {
    ({ client, provisioner } = rules);
  });
  /** A client on a workspace of its own, so lists hold only what the test made. */
  const fresh = () => rules.app.client(`ws-prefixes-${hex()}`);
  const image = (fields: { image: string; registry_id: string | null; tag?: string }) => client.sandboxImages.create({ name: `img ${hex()}`, ...fields });

  describe("writing a server with a repository path", () => {
    it.each([
      ["ghcr.io/acme", "ghcr.io/acme", "ghcr"],
      ["https://GHCR.io:443/acme/team", "ghcr.io/acme/team", "ghcr"],
      ["index.docker.io/acme", "docker.io/acme", "dockerhub"],
      ["registry.example.com:5000/team_a/sub-1", "registry.example.com:5000/team_a/sub-1", "self_hosted"],
      ["https://registry.example.com/v2/", "registry.example.com", "self_hosted"],
    ])("%s → stored as %s, provider %s (the host's)", async (typed, server, provider) => {
      const password = provider === "dockerhub" ? `dckr_pat_${hex()}` : ghpToken();
      const created = await client.registries.create(registryBody({ server: typed, password }));
      expect(created).toMatchObject({ server, provider });
      expect(await client.registries.get(created.id)).toEqual(created);
    });

    it.each([
      ["an uppercase path", "ghcr.io/Acme"],
      ["a trailing slash after the path", "ghcr.io/acme/"],
      ["an empty path segment", "ghcr.io/acme//team"],
      ["a tag", "ghcr.io/acme/app:v1"],
      ["a digest", `ghcr.io/acme/app@sha256:${"a".repeat(64)}`],
      ["a component the grammar refuses", "ghcr.io/-acme"],
      ["a name longer than an image name may be", `ghcr.io/${"a".repeat(250)}`],
    ])("%s → 422 at /body/server, on create and on update, nothing stored", async (_label, server) => {
      const ws = fresh();
      expectFieldError(await apiError(ws.registries.create(registryBody({ server }))), "/body/server");
      expect((await ws.registries.list()).data).toEqual([]);
      const existing = await ws.registries.create(registryBody());
      expectFieldError(await apiError(ws.registries.update(existing.id, { server })), "/body/server");
      expect(await ws.registries.get(existing.id)).toEqual(existing);
    });

    it("several registries on one host coexist, with their own users; only names are unique", async () => {
      const ws = fresh();
      const acme = await ws.registries.create(registryBody({ name: "acme", server: "ghcr.io/acme", username: "acme-bot" }));
      const other = await ws.registries.create(registryBody({ name: "other", server: "ghcr.io/other", username: "other-bot" }));
      const host = await ws.registries.create(registryBody({ name: "host", server: "ghcr.io" }));
      const again = await ws.registries.create(registryBody({ name: "acme again", server: "https://ghcr.io/acme" }));
      expect([acme.server, other.server, host.server, again.server]).toEqual(["ghcr.io/acme", "ghcr.io/other", "ghcr.io", "ghcr.io/acme"]);
      const taken = await apiError(ws.registries.create(registryBody({ name: "acme", server: "ghcr.io/third" })));
      expect([taken.status, taken.code]).toEqual([409, "registry_name_taken"]);
    });

    it("moving a registry to a prefix resets its verification, as any server change does; the same prefix respelled does not", async () => {
      const created = await client.registries.create(registryBody({ server: "127.0.0.1" }), { verify: true });
      expect(created.verification.checked_at).not.toBeNull();
      const moved = await client.registries.update(created.id, { server: "127.0.0.1/team" });
      expect(moved.verification).toEqual({ status: "unverified", checked_at: null, error_code: null, detail: null });
      const respelled = await client.registries.update(created.id, { server: "https://127.0.0.1:443/team" });
      expect([respelled.server, respelled.verification]).toEqual(["127.0.0.1/team", moved.verification]);
    });
  });

  describe("?server= lists a server and the prefixes under it", () => {
    it("a host finds every registry on it; a prefix finds itself and deeper ones, never a sibling that shares its text", async () => {
      const ws = fresh();
      const make = (server: string) => ws.registries.create(registryBody({ server }));
      const host = await make("ghcr.io");
      const acme = await make("ghcr.io/acme");
      const team = await make("ghcr.io/acme/team");
      const acmecorp = await make("ghcr.io/acmecorp");
      await make("ghcr.io:5000/acme");
      await make("quay.io/acme");
      const ids = async (server: string) => (await ws.registries.list({ server })).data.map((r) => r.id);

      expect(await ids("ghcr.io")).toEqual([acmecorp.id, team.id, acme.id, host.id]);
      expect(await ids("https://GHCR.io:443/")).toEqual([acmecorp.id, team.id, acme.id, host.id]);
      expect(await ids("ghcr.io/acme")).toEqual([team.id, acme.id]);
      expect(await ids("ghcr.io/acme/team")).toEqual([team.id]);
      expect(await ids("ghcr.io/acme/team/app")).toEqual([]);
      // Not valid servers: nothing, not an error.
      expect(await ids("ghcr.io/Acme")).toEqual([]);
      expect(await ids("http:")).toEqual([]);
    });

    it("pages on with its cursor, which stays tied to the filter", async () => {
      const ws = fresh();
      const made = [];
      for (const server of ["ghcr.io/a", "quay.io/a", "ghcr.io/b", "ghcr.io"]) made.push(await ws.registries.create(registryBody({ server })));
      const first = await ws.registries.list({ server: "ghcr.io", limit: 2 });
      expect(first.data.map((r) => r.server)).toEqual(["ghcr.io", "ghcr.io/b"]);
      const second = await ws.registries.list({ server: "ghcr.io", limit: 2, cursor: first.nextCursor! });
      expect([second.data.map((r) => r.server), second.nextCursor]).toEqual([["ghcr.io/a"], null]);
      const crossed = await apiError(ws.registries.list({ server: "ghcr.io/a", limit: 2, cursor: first.nextCursor! }));
      expect([crossed.status, crossed.code]).toEqual([422, "invalid_cursor"]);
    });
  });

  describe("linking: the prefix must cover the image's repository", () => {
    it("links images under the prefix (with the host's default port, deeper paths, the prefix itself)", async () => {
      const acme = await client.registries.create(registryBody({ server: "ghcr.io/acme" }));
      for (const each of ["ghcr.io/acme/app", "ghcr.io:443/acme/app", "ghcr.io/acme/team/app", "ghcr.io/acme"]) {
        expect((await image({ image: each, registry_id: acme.id })).registry_id, each).toBe(acme.id);
      }
    });

    it.each([
      ["a sibling sharing the prefix's text", "ghcr.io/acmecorp/app"],
      ["another organisation", "ghcr.io/other/app"],
      ["the host's root", "ghcr.io/app"],
    ])("%s (%s) → 422 registry_host_mismatch naming the image and the server", async (_label, refused) => {
      const acme = await client.registries.create(registryBody({ server: "ghcr.io/acme" }));
      const err = await apiError(image({ image: refused, registry_id: acme.id }));
      expect([err.status, err.code]).toEqual([422, "registry_host_mismatch"]);
      expect(err.problem).toMatchObject({ image_host: "ghcr.io", registry_server: "ghcr.io/acme" });
      expect(err.problem?.errors).toEqual([{ path: "/body/registry_id", message: expect.any(String) }]);
      expect(err.detail).toContain(`The image ${refused} is not under the registry's server ghcr.io/acme`);
    });

    it("another host is still the host mismatch it was", async () => {
      const acme = await client.registries.create(registryBody({ server: "ghcr.io/acme" }));
      const err = await apiError(image({ image: "quay.io/acme/app", registry_id: acme.id }));
      expect(err.problem).toMatchObject({ code: "registry_host_mismatch", image_host: "quay.io", registry_server: "ghcr.io/acme" });
    });

    it("Docker Hub prefixes compare with canonical repositories: docker.io/library serves ubuntu, docker.io/acme serves acme/app", async () => {
      const library = await client.registries.create(registryBody({ server: "docker.io/library", password: `dckr_pat_${hex()}` }));
      const acme = await client.registries.create(registryBody({ server: "docker.io/acme", password: `dckr_pat_${hex()}` }));
      expect((await image({ image: "ubuntu", registry_id: library.id })).registry_id).toBe(library.id);
      expect((await image({ image: "acme/app", registry_id: acme.id })).registry_id).toBe(acme.id);
      expect((await apiError(image({ image: "ubuntu", registry_id: acme.id }))).code).toBe("registry_host_mismatch");
    });

    it("updates are checked too: a new image outside the prefix, or a registry whose prefix does not cover the image", async () => {
      const acme = await client.registries.create(registryBody({ server: "ghcr.io/acme" }));
      const other = await client.registries.create(registryBody({ server: "ghcr.io/other" }));
      const linked = await image({ image: "ghcr.io/acme/app", registry_id: acme.id });
      expect((await apiError(client.sandboxImages.update(linked.id, { image: "ghcr.io/other/app" }))).code).toBe("registry_host_mismatch");
      expect((await apiError(client.sandboxImages.update(linked.id, { registry_id: other.id }))).code).toBe("registry_host_mismatch");
      expect(await client.sandboxImages.get(linked.id)).toEqual(linked);
      const moved = await client.sandboxImages.update(linked.id, { image: "ghcr.io/other/app", registry_id: other.id });
      expect(moved).toMatchObject({ registry_id: other.id, reference: "ghcr.io/other/app:latest" });
    });
  });

  describe("pull credentials of a prefixed registry", () => {
    it("docker_config and X-Registry-Auth keyed by the host, the Kubernetes secret by host/path; registry.server is the prefix", async () => {
      const password = ghpToken();
      const acme = await client.registries.create(registryBody({ server: "ghcr.io/acme", username: "acme-bot", password }));
      const linked = await image({ image: "ghcr.io/acme/team/app", tag: "v1", registry_id: acme.id });
      const credentials = await provisioner.provisioning.pullCredentials(linked.id);
      expect(credentials.reference).toBe("ghcr.io/acme/team/app:v1");
      expect(credentials.registry).toEqual({ id: acme.id, name: acme.name, server: "ghcr.io/acme", insecure: false });
      expect(credentials.auth?.server).toBe("ghcr.io");
      const basic = Buffer.from(`acme-bot:${password}`).toString("base64");
      expect(credentials.auth?.docker_config).toEqual({ auths: { "ghcr.io": { auth: basic } } });
      expect(JSON.parse(decodeGoUrlEncoding(credentials.auth!.x_registry_auth).toString("utf8"))).toEqual({
        username: "acme-bot",
        password,
        serveraddress: "ghcr.io",
      });
      expect(kubeletAuths(credentials)).toEqual({ "ghcr.io/acme": { username: "acme-bot", password, auth: basic } });
    });

    it("two registries on one host: each image gets its own registry's user, Kubernetes keys that do not collide", async () => {
      const acme = await client.registries.create(registryBody({ server: "ghcr.io/acme", username: "acme-bot" }));
      const other = await client.registries.create(registryBody({ server: "ghcr.io/other", username: "other-bot" }));
      const acmeImage = await image({ image: "ghcr.io/acme/app", registry_id: acme.id });
      const otherImage = await image({ image: "ghcr.io:443/other/app", registry_id: other.id });
      const forAcme = await provisioner.provisioning.pullCredentials(acmeImage.id);
      const forOther = await provisioner.provisioning.pullCredentials(otherImage.id);
      expect(Object.values(kubeletAuths(forAcme)).map((a) => a.username)).toEqual(["acme-bot"]);
      expect(Object.values(kubeletAuths(forOther)).map((a) => a.username)).toEqual(["other-bot"]);
      // Merged into one secret, the kubelet finds each image's credential by its path.
      expect(Object.keys({ ...kubeletAuths(forAcme), ...kubeletAuths(forOther) })).toEqual(["ghcr.io/acme", "ghcr.io:443/other"]);
      // Docker's formats can hold one credential per host: each answer is for its own pull.
      expect(Object.keys(forAcme.auth!.docker_config.auths)).toEqual(["ghcr.io"]);
      expect(Object.keys(forOther.auth!.docker_config.auths)).toEqual(["ghcr.io:443"]);
    });

    it("a registry moved to a prefix that no longer covers a linked image: 409 registry_host_mismatch, pull check says so too", async () => {
      const registry = await client.registries.create(registryBody({ server: "ghcr.io/acme" }));
      const linked = await image({ image: "ghcr.io/acme/app", registry_id: registry.id });
      await client.registries.update(registry.id, { server: "ghcr.io/other" });
      const refused = await apiError(provisioner.provisioning.pullCredentials(linked.id));
      expect([refused.status, refused.code]).toEqual([409, "registry_host_mismatch"]);
      expect(refused.problem).toMatchObject({ image_host: "ghcr.io", registry_server: "ghcr.io/other" });
      const check = await client.sandboxImages.pullCheck(linked.id);
      expect([check.pullable, check.error_code]).toEqual([false, "registry_host_mismatch"]);
      expect(check.detail).toContain("is not under the registry's server ghcr.io/other");
    });
  });
});
