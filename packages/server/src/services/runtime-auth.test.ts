import { describe, expect, it } from "vitest";
import { paddedBase64Url, runtimeAuth } from "./runtime-auth.js";

/** Decodes as Go's base64.URLEncoding does: URL alphabet, padding required. */
function decodeGoUrlEncoding(value: string): string {
  expect(value).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
  expect(value.length % 4).toBe(0);
  return Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
}

describe("runtimeAuth", () => {
  it("matches the X-Registry-Auth example of wire-formats exactly", () => {
    expect(paddedBase64Url(JSON.stringify({ username: "octocat", password: "ghp_example", serveraddress: "ghcr.io" }))).toBe(
      "eyJ1c2VybmFtZSI6Im9jdG9jYXQiLCJwYXNzd29yZCI6ImdocF9leGFtcGxlIiwic2VydmVyYWRkcmVzcyI6ImdoY3IuaW8ifQ==",
    );
  });

  it("builds every runtime format for GHCR", () => {
    const auth = runtimeAuth({ host: "ghcr.io", path: "", username: "octocat", password: "ghp_example", email: null }, "modbox-pull-x");
    expect(JSON.parse(decodeGoUrlEncoding(auth.x_registry_auth))).toEqual({
      username: "octocat",
      password: "ghp_example",
      serveraddress: "ghcr.io",
    });
    expect(auth.docker_config).toEqual({ auths: { "ghcr.io": { auth: "b2N0b2NhdDpnaHBfZXhhbXBsZQ==" } } });
    expect(auth.kubernetes_secret).toMatchObject({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/dockerconfigjson", metadata: { name: "modbox-pull-x" } });
    const config = JSON.parse(Buffer.from(auth.kubernetes_secret.data[".dockerconfigjson"], "base64").toString("utf8"));
    expect(config).toEqual({
      auths: { "ghcr.io": { username: "octocat", password: "ghp_example", auth: "b2N0b2NhdDpnaHBfZXhhbXBsZQ==" } },
    });
  });

  it("pads X-Registry-Auth whatever the JSON length, and keys Docker Hub as the CLI does", () => {
    for (const password of ["a", "ab", "abc", "abcd", "p+/?>~"]) {
      const auth = runtimeAuth({ host: "docker.io", path: "", username: "u", password, email: "u@example.com" }, "s");
      expect(JSON.parse(decodeGoUrlEncoding(auth.x_registry_auth)).password).toBe(password);
      expect(Object.keys(auth.docker_config.auths)).toEqual(["https://index.docker.io/v1/"]);
      expect(auth.docker_config.auths["https://index.docker.io/v1/"]).toMatchObject({ email: "u@example.com" });
    }
  });

  it("keys the credential by the image's host as its reference spells it, the default port included", () => {
    // Runtimes look credentials up by the image's host with its port as written (the kubelet
    // compares ports exactly): an image ghcr.io:443/org/app is looked up as ghcr.io:443.
    const auth = runtimeAuth({ host: "ghcr.io:443", path: "", username: "octocat", password: "ghp_example", email: null }, "s");
    expect(auth.server).toBe("ghcr.io:443");
    expect(Object.keys(auth.docker_config.auths)).toEqual(["ghcr.io:443"]);
    expect(JSON.parse(decodeGoUrlEncoding(auth.x_registry_auth)).serveraddress).toBe("ghcr.io:443");
  });

  it("keeps a self-hosted host:port as the key", () => {
    const auth = runtimeAuth({ host: "127.0.0.1:5443", path: "", username: "robot", password: "s3cret", email: null }, "s");
    expect(Object.keys(auth.docker_config.auths)).toEqual(["127.0.0.1:5443"]);
    expect(JSON.parse(decodeGoUrlEncoding(auth.x_registry_auth)).serveraddress).toBe("127.0.0.1:5443");
  });

  it("a registry with a repository prefix: Docker's formats keyed by host, the Kubernetes secret by host and path", () => {
    const auth = runtimeAuth({ host: "ghcr.io", path: "acme", username: "octocat", password: "ghp_example", email: null }, "s");
    expect(auth.server).toBe("ghcr.io");
    // The Docker CLI and daemon look `auths` up by host only: a key with a path would never be found.
    expect(Object.keys(auth.docker_config.auths)).toEqual(["ghcr.io"]);
    expect(JSON.parse(decodeGoUrlEncoding(auth.x_registry_auth)).serveraddress).toBe("ghcr.io");
    // The kubelet matches keys with a path against the image's name, longest first.
    const config = JSON.parse(Buffer.from(auth.kubernetes_secret.data[".dockerconfigjson"], "base64").toString("utf8"));
    expect(Object.keys(config.auths)).toEqual(["ghcr.io/acme"]);
  });

  it("a prefix keeps the image's spelling of the host, and Docker Hub's is its canonical domain", () => {
    const secretKeys = (host: string, path: string) => {
      const auth = runtimeAuth({ host, path, username: "u", password: "p", email: null }, "s");
      return Object.keys(JSON.parse(Buffer.from(auth.kubernetes_secret.data[".dockerconfigjson"], "base64").toString("utf8")).auths);
    };
    expect(secretKeys("ghcr.io:443", "acme/team")).toEqual(["ghcr.io:443/acme/team"]);
    expect(secretKeys("[::1]:5000", "acme")).toEqual(["[::1]:5000/acme"]);
    expect(secretKeys("docker.io", "acme")).toEqual(["docker.io/acme"]);
    expect(secretKeys("docker.io", "")).toEqual(["https://index.docker.io/v1/"]);
  });
});

describe("paddedBase64Url", () => {
  it("swaps in the URL alphabet for both characters that differ, and keeps the padding", () => {
    // "???>>>" is "Pz8/Pj4+" in standard base64.
    expect(paddedBase64Url("???>>>")).toBe("Pz8_Pj4-");
    expect(paddedBase64Url("??>")).toBe("Pz8-");
    expect(paddedBase64Url("?")).toBe("Pw==");
  });
});
