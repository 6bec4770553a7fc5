import { contractSchema } from "@modbox/testkit/contract";
import { describe, expect, it } from "vitest";
import {
  apiHost,
  authKeyForImageHost,
  configKey,
  isDockerHub,
  normaliseServer,
  parseHostAndPort,
  parseIPv6,
  sameRegistry,
  serverAddress,
  serverScheme,
  serverPath,
  servesImage,
  servesImageHost,
  kubernetesAuthKey,
} from "./hosts.js";

const IPV4 = /IPv4 addresses must be four decimal octets/;

describe("normaliseServer: accepted spellings", () => {
  it.each([
    ["ghcr.io", "ghcr.io"],
    ["GHCR.io", "ghcr.io"],
    ["ghcr.io/", "ghcr.io"],
    ["https://ghcr.io/", "ghcr.io"],
    [" https://GHCR.io/ ", "ghcr.io"],
    ["HTTPS://ghcr.io", "ghcr.io"],
    ["Http://ghcr.io/v2/", "http://ghcr.io"],
    ["\tghcr.io\n", "ghcr.io"],
    ["http://registry.example.com:5000", "http://registry.example.com:5000"],
    ["https://registry.example.com:5000/v2", "registry.example.com:5000"],
    ["https://registry.example.com/V2/", "registry.example.com"],
    ["docker.io", "docker.io"],
    ["Docker.IO", "docker.io"],
    ["index.docker.io", "docker.io"],
    ["https://index.docker.io/v1/", "docker.io"],
    ["https://index.docker.io/v1", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
    ["https://registry-1.docker.io/v2/", "docker.io"],
    ["registry.hub.docker.com", "docker.io"],
    // The scheme's default port is dropped: the same endpoint, one spelling.
    ["docker.io:443", "docker.io"],
    ["index.docker.io:443", "docker.io"],
    ["ghcr.io:443", "ghcr.io"],
    ["https://GHCR.io:443/v2/", "ghcr.io"],
    ["[::1]:443", "[::1]"],
    ["localhost:443", "localhost"],
    ["10.0.0.1:443", "10.0.0.1"],
    ["http://registry.example.com:80/", "http://registry.example.com"],
    ["http://localhost", "http://localhost"],
    ["HTTP://10.0.0.5:5000/v2/", "http://10.0.0.5:5000"],
    // Another scheme's default port is just a port.
    ["registry.example.com:80", "registry.example.com:80"],
    ["http://registry.example.com:443", "http://registry.example.com:443"],
    // A single label keeps even the default port: without it, Docker reads a Docker Hub namespace.
    ["myregistry:443", "myregistry:443"],
    ["http://myregistry:80", "http://myregistry:80"],
    ["localhost", "localhost"],
    ["LOCALHOST:5000", "localhost:5000"],
    ["registry:5000", "registry:5000"],
    ["127.0.0.1:5000", "127.0.0.1:5000"],
    ["10.0.0.1", "10.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255:65535", "255.255.255.255:65535"],
    ["[::1]", "[::1]"],
    ["[::1]:5000", "[::1]:5000"],
    ["http://[::1]:5000/", "http://[::1]:5000"],
    ["[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]"],
    ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]"],
    ["123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com"],
    ["https://myregistry.azurecr.io/v2", "myregistry.azurecr.io"],
    ["europe-west1-docker.pkg.dev", "europe-west1-docker.pkg.dev"],
    ["xn--bcher-kva.example", "xn--bcher-kva.example"],
    ["1.2.3.a", "1.2.3.a"],
    ["123.example.com", "123.example.com"],
    [`${"a".repeat(63)}.com`, `${"a".repeat(63)}.com`],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`, `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`],
  ])("%j → %s", (input, server) => {
    const host = server.replace(/^http:\/\//, "");
    expect(normaliseServer(input)).toEqual({ ok: true, server, scheme: host === server ? "https" : "http", host, path: "" });
  });
});

describe("normaliseServer: refused", () => {
  it.each([
    ["", /server is empty/],
    ["   ", /server is empty/],
    ["ftp://ghcr.io", /only an https:\/\/ or http:\/\/ prefix/],
    ["oci://ghcr.io", /only an https:\/\/ or http:\/\/ prefix/],
    ["https://ghcr.io/org/", /must not end with \//],
    ["https://ghcr.io/v3/", /must not end with \//],
    ["ghcr.io//", /must not end with \//],
    ["ghcr.io?x=1", /query/],
    ["ghcr.io/?x=1", /query/],
    ["ghcr.io#frag", /fragment/],
    ["user@ghcr.io", /user name/],
    ["https://user:pass@ghcr.io", /user name/],
    ["ghcr.io\\@evil.com", /backslash/],
    ["ghcr .io", /whitespace/],
    ["gh\tcr.io", /whitespace/],
    ["ghcr.io\u0000", /control/],
    ["https://", /host is empty/],
    [":5000", /host is empty/],
    ["ghcr.io:", /port must be/],
    ["ghcr.io:0", /port must be/],
    ["ghcr.io:65536", /port must be/],
    ["ghcr.io:05000", /port must be/],
    ["ghcr.io:abc", /port must be/],
    ["ghcr.io:-1", /port must be/],
    // Every numeric SSRF disguise of 127.0.0.1 and friends.
    ["2130706433", IPV4],
    ["http://2130706433:5000/", IPV4],
    ["0177.0.0.1", IPV4],
    ["017700000001", IPV4],
    ["0x7f.0.0.1", IPV4],
    ["0X7F.0.0.1", IPV4],
    ["0x7f000001", IPV4],
    ["127.0x0.0.1", IPV4],
    ["127.1", IPV4],
    ["127.0.1", IPV4],
    ["127.0.0.01", IPV4],
    ["256.0.0.1", IPV4],
    ["1.2.3.4.5", IPV4],
    ["1.2.3.0x4", IPV4],
    ["example.123", IPV4],
    ["::1", /brackets/],
    ["2001:db8::1", /brackets/],
    ["[::1", /closing bracket/],
    ["[::1]x", /only :port/],
    ["[::1]:", /port must be/],
    ["[::1%eth0]", /IPv6 address is not valid/],
    ["[1::2::3]", /IPv6 address is not valid/],
    ["[::g]", /IPv6 address is not valid/],
    ["[1:2:3:4:5:6:7:8:9]", /IPv6 address is not valid/],
    ["[1:2:3:4:5:6:7]", /IPv6 address is not valid/],
    ["[1.2.3.4::]", /IPv6 address is not valid/],
    ["[::ffff:127.1]", /IPv6 address is not valid/],
    ["[]", /IPv6 address is not valid/],
    ["ghcr.io.", /must not end with a dot/],
    ["-ghcr.io", /letters, digits and inner hyphens/],
    ["ghcr-.io", /letters, digits and inner hyphens/],
    ["gh_cr.io", /letters, digits and inner hyphens/],
    ["%67hcr.io", /letters, digits and inner hyphens/],
    ["a..b", /empty labels/],
    [".ghcr.io", /empty labels/],
    ["bücher.de", /ASCII/],
    [`${"a".repeat(64)}.com`, /at most 63 characters/],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`, /at most 253 characters/],
    ["x".repeat(600), /at most 512 characters/],
    ["myregistry", /needs a dot, a port or to be localhost/],
  ])("%j is refused", (input, reason) => {
    expect(normaliseServer(input)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it("never echoes the input in its reason", () => {
    for (const input of ["https://secret-marker.example/Path", "https://ghcr.io/secret-marker/", "secret-marker@ghcr.io", "secret-marker:99999"]) {
      expect(normaliseServer(input)).toEqual({ ok: false, reason: expect.not.stringContaining("secret-marker") });
    }
  });
});

describe("parseHostAndPort", () => {
  it("does not collapse Docker Hub aliases and reports the host kind", () => {
    expect(parseHostAndPort("Index.Docker.io")).toEqual({ ok: true, host: "index.docker.io", kind: "dns" });
    expect(parseHostAndPort("10.1.2.3:80")).toEqual({ ok: true, host: "10.1.2.3", port: 80, kind: "ipv4" });
    expect(parseHostAndPort("[0:0::1]:5000")).toEqual({ ok: true, host: "[::1]", port: 5000, kind: "ipv6" });
  });

  it("accepts a single label (an image reference decides separately whether it is a domain)", () => {
    expect(parseHostAndPort("registry")).toEqual({ ok: true, host: "registry", kind: "dns" });
  });
});

describe("parseIPv6 (RFC 5952 output)", () => {
  it.each([
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["0000:0000:0000:0000:0000:0000:0000:0001", "::1"],
    ["2001:DB8::0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["::ffff:192.0.2.128", "::ffff:c000:280"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
  ])("%s → %s", (input, output) => {
    expect(parseIPv6(input)).toBe(output);
  });

  it.each([":::", "1:::2", ":1::2", "1::2:", "12345::", "1:2:3:4:5:6:7:8::", "::1.2.3", "::01.2.3.4", "1.2.3.4"])(
    "%s is not an IPv6 address",
    (input) => {
      expect(parseIPv6(input)).toBeUndefined();
    },
  );
});

describe("normaliseServer: answers", () => {
  it("are the same call after call, and a caller changing one cannot change the next", () => {
    const samples = [" https://GHCR.io/ ", "https://index.docker.io/v1/", "http://0x7f.0.0.1", "myregistry"];
    const first = samples.map((s) => ({ ...normaliseServer(s) }));
    for (let i = 0; i < 2_500; i++) normaliseServer(`registry-${i}.example.com:${1 + (i % 60_000)}`);
    expect(samples.map((s) => ({ ...normaliseServer(s) }))).toEqual(first);

    Object.assign(normaliseServer("ghcr.io"), { server: "evil.example" });
    expect(normaliseServer("ghcr.io")).toEqual({ ok: true, server: "ghcr.io", scheme: "https", host: "ghcr.io", path: "" });
  });
});

describe("sameRegistry", () => {
  it.each([
    ["docker.io", "registry-1.docker.io", true],
    ["https://index.docker.io/v1/", "registry.hub.docker.com", true],
    ["Docker.io", "docker.io/", true],
    ["ghcr.io", "https://GHCR.IO/", true],
    ["[::1]:5000", "[0::1]:5000", true],
    ["ghcr.io", "ghcr.io:443", true],
    ["docker.io", "docker.io:443", true],
    ["http://registry.lan", "http://registry.lan:80", true],
    ["http://registry.lan:5000", "registry.lan:5000", false],
    ["http://registry.lan", "registry.lan", false],
    ["ghcr.io", "ghcr.io:80", false],
    ["ghcr.io", "gcr.io", false],
    ["localhost:5000", "localhost:5001", false],
    ["not a host", "not a host", false],
    ["", "", false],
  ])("%j vs %j → %s", (a, b, same) => {
    expect(sameRegistry(a, b)).toBe(same);
    expect(sameRegistry(b, a)).toBe(same);
  });
});

describe("apiHost, configKey, serverAddress", () => {
  it.each([
    // server, apiHost, configKey, serverAddress
    ["docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "https://index.docker.io/v1/"],
    ["https://index.docker.io/v1/", "registry-1.docker.io", "https://index.docker.io/v1/", "https://index.docker.io/v1/"],
    ["registry-1.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "https://index.docker.io/v1/"],
    ["ghcr.io", "ghcr.io", "ghcr.io", "ghcr.io"],
    ["https://GHCR.io/", "ghcr.io", "ghcr.io", "ghcr.io"],
    ["localhost:5000", "localhost:5000", "localhost:5000", "localhost:5000"],
    ["[::1]:5000", "[::1]:5000", "[::1]:5000", "[::1]:5000"],
    ["docker.io:443", "registry-1.docker.io", "https://index.docker.io/v1/", "https://index.docker.io/v1/"],
    ["ghcr.io:443", "ghcr.io", "ghcr.io", "ghcr.io"],
    // An http registry is contacted and keyed by its bare host[:port]: the scheme is serverScheme's.
    ["http://registry.lan:5000", "registry.lan:5000", "registry.lan:5000", "registry.lan:5000"],
    ["http://registry.lan:80", "registry.lan", "registry.lan", "registry.lan"],
  ])("%s", (server, api, key, address) => {
    expect(apiHost(server)).toBe(api);
    expect(configKey(server)).toBe(key);
    expect(serverAddress(server)).toBe(address);
  });

  it("throws on a server that does not normalise, without echoing it", () => {
    expect(() => apiHost("secret-marker@host")).toThrow(TypeError);
    expect(() => configKey("https://x/secret-marker")).toThrow(/invalid registry server/);
    // Asserted outside any catch, so a call that does not throw fails too.
    expect(() => serverAddress("secret-marker@host")).toThrow(expect.objectContaining({ message: expect.not.stringContaining("secret-marker") }));
  });

  it("isDockerHub recognises every alias and nothing else", () => {
    for (const alias of ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "https://index.docker.io/v1/", "docker.io:443"]) {
      expect(isDockerHub(alias)).toBe(true);
    }
    for (const other of ["docker.io:5000", "hub.docker.com", "ghcr.io", "docker.io.evil.com", "registry-2.docker.io"]) {
      expect(isDockerHub(other)).toBe(false);
    }
  });
});

describe("http servers", () => {
  it("serverScheme: https unless written http://", () => {
    expect(["ghcr.io", "https://ghcr.io", "registry.lan:5000", "http://registry.lan:5000", "HTTP://registry.lan"].map(serverScheme)).toEqual([
      "https",
      "https",
      "https",
      "http",
      "http",
    ]);
    expect(() => serverScheme("ftp://registry.lan")).toThrow(TypeError);
  });

  it.each(["http://docker.io", "http://index.docker.io:80/v1/", "http://registry-1.docker.io", "http://myregistry"])(
    "refuses %s (Docker Hub speaks https only; a single label needs a port)",
    (input) => {
      expect(normaliseServer(input)).toEqual({ ok: false, reason: expect.any(String) });
    },
  );
});

describe("servesImageHost: the image's host against the registry's server", () => {
  it.each([
    // server, image host, served
    ["ghcr.io", "ghcr.io", true],
    ["ghcr.io", "ghcr.io:443", true],
    ["docker.io", "docker.io", true],
    ["registry.lan:5000", "registry.lan:5000", true],
    ["[::1]:5000", "[::1]:5000", true],
    ["http://registry.lan:5000", "registry.lan:5000", true],
    ["http://registry.lan", "registry.lan", true],
    ["http://registry.lan", "registry.lan:80", true],
    ["myregistry:443", "myregistry:443", true],
    // The other scheme's default port is another port.
    ["http://registry.lan", "registry.lan:443", false],
    ["registry.lan", "registry.lan:80", false],
    ["ghcr.io", "ghcr.io:5000", false],
    ["ghcr.io", "gcr.io", false],
    ["http://registry.lan:5000", "registry.lan:5001", false],
    // An image host has no scheme; an invalid server serves nothing.
    ["http://registry.lan:5000", "http://registry.lan:5000", false],
    ["not a host", "not a host", false],
  ])("%s serves %s: %s", (server, imageHost, served) => {
    expect(servesImageHost(server, imageHost)).toBe(served);
  });
});

describe("authKeyForImageHost", () => {
  it("keys by the image's host as written, Docker Hub as the CLI does", () => {
    expect(["ghcr.io", "ghcr.io:443", "registry.lan:5000", "[::1]:5000", "docker.io"].map(authKeyForImageHost)).toEqual([
      "ghcr.io",
      "ghcr.io:443",
      "registry.lan:5000",
      "[::1]:5000",
      "https://index.docker.io/v1/",
    ]);
  });
});

describe("normaliseServer: a repository path prefix", () => {
  it.each([
    // typed, stored, host, path
    ["ghcr.io/acme", "ghcr.io/acme", "ghcr.io", "acme"],
    ["https://GHCR.io:443/acme", "ghcr.io/acme", "ghcr.io", "acme"],
    ["ghcr.io/acme/team-a/sub_1", "ghcr.io/acme/team-a/sub_1", "ghcr.io", "acme/team-a/sub_1"],
    ["registry.lan:5000/team", "registry.lan:5000/team", "registry.lan:5000", "team"],
    ["[::1]:5000/team", "[::1]:5000/team", "[::1]:5000", "team"],
    ["localhost/team", "localhost/team", "localhost", "team"],
    // Docker Hub's spellings collapse with their path kept: a namespace is not an image, no library/ is added.
    ["index.docker.io/acme", "docker.io/acme", "docker.io", "acme"],
    ["https://registry-1.docker.io/library", "docker.io/library", "docker.io", "library"],
    // Only a path of exactly /v1 or /v2 is an API root; a deeper one is a namespace that happens to be called v2.
    ["ghcr.io/v2/acme", "ghcr.io/v2/acme", "ghcr.io", "v2/acme"],
    ["ghcr.io/a.b__c--d", "ghcr.io/a.b__c--d", "ghcr.io", "a.b__c--d"],
  ])("%j → %s", (typed, server, host, path) => {
    expect(normaliseServer(typed)).toEqual({ ok: true, server, scheme: "https", host, path });
    expect(serverPath(server)).toBe(path);
  });

  it("keeps the http:// scheme in front of host and path", () => {
    expect(normaliseServer("HTTP://Registry.lan:80/team")).toEqual({
      ok: true,
      server: "http://registry.lan/team",
      scheme: "http",
      host: "registry.lan",
      path: "team",
    });
  });

  it.each([
    ["ghcr.io/Acme", /after the host: repository name must be lowercase/],
    ["ghcr.io/acme/", /must not end with \//],
    ["ghcr.io/acme//team", /empty components/],
    ["ghcr.io/acme/app:v1", /never a :tag or @digest/],
    [`ghcr.io/acme/app@sha256:${"a".repeat(64)}`, /never a :tag or @digest/],
    ["ghcr.io/-acme", /components must match/],
    ["ghcr.io/acme./x", /components must match/],
    ["ghcr.io/ac%6de", /components must match/],
    ["user@ghcr.io/acme", /user name/],
    ["ghcr.io/acme?x=1", /query/],
    [`ghcr.io/${"a".repeat(250)}`, /at most 255 characters/],
    ["http://docker.io/acme", /https only/],
  ])("%j is refused: %s", (typed, reason) => {
    expect(normaliseServer(typed)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it("a prefix is part of the registry's identity; the host's helpers ignore it", () => {
    expect(sameRegistry("ghcr.io/acme", "https://ghcr.io:443/acme")).toBe(true);
    expect(sameRegistry("ghcr.io/acme", "ghcr.io")).toBe(false);
    expect(sameRegistry("ghcr.io/acme", "ghcr.io/other")).toBe(false);
    expect(apiHost("docker.io/acme")).toBe("registry-1.docker.io");
    expect(configKey("docker.io/acme")).toBe("https://index.docker.io/v1/");
    expect(configKey("ghcr.io/acme")).toBe("ghcr.io");
    expect(serverAddress("http://registry.lan:5000/team")).toBe("registry.lan:5000");
    expect(serverScheme("http://registry.lan:5000/team")).toBe("http");
    expect(isDockerHub("docker.io/acme")).toBe(true);
  });
});

describe("servesImage: the image's host and repository against the registry's server", () => {
  it.each([
    // server, image host, repository, served
    ["ghcr.io/acme", "ghcr.io", "acme/app", true],
    ["ghcr.io/acme", "ghcr.io:443", "acme/app", true],
    ["ghcr.io/acme", "ghcr.io", "acme", true],
    ["ghcr.io/acme", "ghcr.io", "acme/team/app", true],
    ["ghcr.io/acme/team", "ghcr.io", "acme/team/app", true],
    ["ghcr.io", "ghcr.io", "anyone/app", true],
    ["docker.io/library", "docker.io", "library/ubuntu", true],
    ["http://registry.lan/team", "registry.lan:80", "team/app", true],
    ["[::1]:5000/team", "[::1]:5000", "team/app", true],
    // Segment boundary: a prefix of the text is not a prefix of the path.
    ["ghcr.io/acme", "ghcr.io", "acmecorp/app", false],
    ["ghcr.io/acme/team", "ghcr.io", "acme/teamwork/app", false],
    ["ghcr.io/acme/team", "ghcr.io", "acme/app", false],
    ["ghcr.io/acme", "ghcr.io", "other/acme/app", false],
    // The host still has to match, ports included.
    ["ghcr.io/acme", "ghcr.io:5000", "acme/app", false],
    ["ghcr.io/acme", "gcr.io", "acme/app", false],
    ["registry.lan:5000/team", "registry.lan:5001", "team/app", false],
    ["docker.io/acme", "ghcr.io", "acme/app", false],
    ["not a host/acme", "not a host", "acme/app", false],
  ])("%s serves %s/%s: %s", (server, imageHost, repository, served) => {
    expect(servesImage(server, imageHost, repository)).toBe(served);
  });

  it("servesImageHost compares hosts only, and an image host never carries a path", () => {
    expect(servesImageHost("ghcr.io/acme", "ghcr.io")).toBe(true);
    expect(servesImageHost("ghcr.io", "ghcr.io/acme")).toBe(false);
  });
});

describe("kubernetesAuthKey", () => {
  it("keys a prefixed registry by the image's host as written and the path; without a path as authKeyForImageHost", () => {
    expect(kubernetesAuthKey("ghcr.io", "acme")).toBe("ghcr.io/acme");
    expect(kubernetesAuthKey("ghcr.io:443", "acme/team")).toBe("ghcr.io:443/acme/team");
    expect(kubernetesAuthKey("docker.io", "acme")).toBe("docker.io/acme");
    expect(kubernetesAuthKey("docker.io", "")).toBe("https://index.docker.io/v1/");
    expect(kubernetesAuthKey("registry.lan:5000", "")).toBe("registry.lan:5000");
  });
});

describe("the contract's RegistryServer pattern and normaliseServer", () => {
  // The validator compiles patterns with the `u` flag; the contract checks written servers
  // (requests) and stored ones (responses) alike, so both must pass it.
  const pattern = new RegExp(String(contractSchema("RegistryServer").pattern), "u");
  const written = [
    "ghcr.io",
    " https://GHCR.io/ ".trim(),
    "https://index.docker.io/v1/",
    "HTTP://10.0.0.5:5000/v2/",
    "[2001:DB8:0:0:0:0:0:1]",
    "https://GHCR.io:443/acme",
    "ghcr.io/acme/team-a/sub_1",
    "http://registry.lan:80/team",
    "index.docker.io/library",
  ];

  it.each(written)("%s passes the contract, and so does what it is stored as", (input) => {
    expect(input).toMatch(pattern);
    expect(normaliseServer(input)).toMatchObject({ ok: true, server: expect.stringMatching(pattern) });
  });

  it.each(["ghcr.io/Acme", "ghcr.io/acme//x", "ghcr.io/acme/app:v1", "ghcr .io", "ghcr.io/ac%6de"])(
    "%s is refused by the contract already, and by the normaliser too",
    (input) => {
      expect(input).not.toMatch(pattern);
      expect(normaliseServer(input).ok).toBe(false);
    },
  );
});

describe("normaliseServer: each refusal says its own rule, in these words", () => {
  const host253 = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
  it.each([
    ["", "server is empty"],
    ["x".repeat(513), "server must be at most 512 characters"],
    // 512 characters is within the input limit: the host rules answer instead.
    ["x".repeat(512), "host must be at most 253 characters"],
    ["ghcr .io", "server must not contain whitespace or control characters"],
    ["ghcr.io\\x", "server must not contain a backslash"],
    ["ftp://ghcr.io", "only an https:// or http:// prefix is allowed"],
    ["ghcr.io?x=1", "server must not contain a query (?)"],
    ["ghcr.io#top", "server must not contain a fragment (#)"],
    ["user@ghcr.io", "server must not contain a user name (user@host)"],
    ["myregistry", "a registry host needs a dot, a port or to be localhost (Docker reads a bare name as a Docker Hub namespace)"],
    ["http://docker.io", "Docker Hub is served over https only: write the server without http://"],
    ["ghcr.io/acme/", "a repository path after the host must not end with /"],
    ["ghcr.io/acme/app:v1", "a repository path after the host names a namespace or repository, never a :tag or @digest"],
    ["https://", "host is empty"],
    [":5000", "host is empty"],
    ["[::1", "IPv6 address is missing its closing bracket"],
    ["[::1]x", "only :port may follow an IPv6 address"],
    ["[::g]", "IPv6 address is not valid"],
    ["::1", "IPv6 addresses must be written in brackets, e.g. [::1]:5000"],
    ["ghcr.io:0", "port must be a number from 1 to 65535 without leading zeros"],
    ["ghcr.io:65536", "port must be a number from 1 to 65535 without leading zeros"],
    ["ghcr.io:5000x", "port must be a number from 1 to 65535 without leading zeros"],
    ["[::1]:x", "port must be a number from 1 to 65535 without leading zeros"],
    ["bücher.de", "host must be ASCII (write international names in punycode, xn--)"],
    ["ghcr.io.", "host must not end with a dot"],
    ["127.1", "IPv4 addresses must be four decimal octets 0-255 without leading zeros"],
    ["registry.0x", "IPv4 addresses must be four decimal octets 0-255 without leading zeros"],
    [`${host253}a`, "host must be at most 253 characters"],
    ["a..b", "host must not contain empty labels (..)"],
    [`${"a".repeat(64)}.com`, "each host label must be at most 63 characters"],
    ["gh_cr.io", "host labels may contain only letters, digits and inner hyphens"],
  ])("%j: %s", (input, reason) => {
    expect(normaliseServer(input)).toEqual({ ok: false, reason });
  });

  it("answers a value that is not a string, as arrives from untyped JSON, with a reason instead of throwing", () => {
    expect(normaliseServer(42 as unknown as string)).toEqual({ ok: false, reason: "server must be a string" });
    expect(normaliseServer(undefined as unknown as string)).toEqual({ ok: false, reason: "server must be a string" });
  });

  it("reads a scheme only at the start: a :// inside the path is a bad repository path, not a prefix", () => {
    expect(normaliseServer("ghcr.io/acme/https://x")).toEqual({
      ok: false,
      reason: "a repository path after the host names a namespace or repository, never a :tag or @digest",
    });
  });

  it("names the repository path rule that failed after the host", () => {
    expect(normaliseServer("ghcr.io//acme")).toEqual({ ok: false, reason: "after the host: repository path must not contain empty components (//, or a leading or trailing /)" });
  });

  it("holds a prefixed server to the image name limit of 255 characters, and a bare host only to the host rules", () => {
    const path247 = "a".repeat(255 - "ghcr.io/".length);
    expect(normaliseServer(`ghcr.io/${path247}`)).toMatchObject({ ok: true, server: `ghcr.io/${path247}`, path: path247 });
    expect(normaliseServer(`ghcr.io/${path247}b`)).toEqual({
      ok: false,
      reason: "server with its repository path must be at most 255 characters (the longest image name)",
    });
    // 253 + ":5000" = 259 characters: longer than an image name, still a valid host.
    expect(normaliseServer(`${host253}:5000`)).toEqual({ ok: true, server: `${host253}:5000`, scheme: "https", host: `${host253}:5000`, path: "" });
  });

  it("takes a last label that only starts or ends with digits (or is 0x and more) for a name, not an address", () => {
    for (const host of ["registry.a1", "registry.1a", "registry.0xg"]) {
      expect(normaliseServer(host)).toEqual({ ok: true, server: host, scheme: "https", host, path: "" });
    }
  });
});

describe("parseHostAndPort: kinds and the empty host", () => {
  it.each([
    ["", { ok: false, reason: "host is empty" }],
    ["[::1]", { ok: true, host: "[::1]", kind: "ipv6" }],
    ["[::1]:5000", { ok: true, host: "[::1]", port: 5000, kind: "ipv6" }],
    ["10.0.0.1", { ok: true, host: "10.0.0.1", kind: "ipv4" }],
    ["Registry.LAN:5000", { ok: true, host: "registry.lan", port: 5000, kind: "dns" }],
  ])("%j → %j", (input, expected) => {
    expect(parseHostAndPort(input)).toEqual(expected);
  });
});

describe("parseIPv6: the edges of the :: rule and of an embedded IPv4 address", () => {
  it.each([
    // Seven written groups and a :: that stands for one zero group (written as 0: RFC 5952 compresses runs of two or more).
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["1::3:4:5:6:7:8", "1:0:3:4:5:6:7:8"],
    // The longest zero run is compressed, the first one on a tie, and a run may end the address.
    ["1:0:0:0:2:0:0:3", "1::2:0:0:3"],
    ["1:0:0:2:3:0:0:0", "1:0:0:2:3::"],
    ["0:0:1:2:3:4:0:0", "::1:2:3:4:0:0"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["::1.2.3.4", "::102:304"],
  ])("%s → %s", (input, output) => {
    expect(parseIPv6(input)).toBe(output);
  });

  it.each([
    ["", "nothing"],
    ["1:2:3:4:5:6:7:g", "a group that is not hex, without ::"],
    ["1:2:3:4:5:6:7:12345", "a group of five digits, without ::"],
    ["::1:2:3:4:5:6:7:8", "eight groups beside a ::"],
    ["1:2:3:4::5:6:7:8", "eight groups around a ::"],
    ["::1.2.3.4:1", "a dotted quad that does not end the address"],
    ["1.2.3.4:1:2:3:4:5:6", "a dotted quad at the start"],
    ["1:2:3:4:5:6:1.2.3", "a dotted quad of three octets"],
    ["1:2:3:4:5:6:1.2.3.256", "an octet over 255"],
    ["1::2::3", "two ::"],
    ["1:::2", "a :::"],
    ["::1%eth0", "a zone id"],
  ])("%j is not an address (%s)", (input) => {
    expect(parseIPv6(input)).toBeUndefined();
  });
});
