import { describe, expect, it } from "vitest";
import { servesImageHost } from "./hosts.js";
import {
  canonicalName,
  checkDigest,
  checkTag,
  familiarName,
  type ImageReference,
  parseImageAndTag,
  parseImageReference,
  pullReference,
  REASONS,
  referenceServer,
} from "./reference.js";

/** The parsed reference; fails the test (rather than skip what follows) when the input is refused. */
function parsed(input: string): ImageReference {
  const result = parseImageReference(input);
  if (!result.ok) return expect.fail(`${JSON.stringify(input)} was refused: ${result.reason}`);
  return result.ref;
}

const H = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; // sha256 of ""
const H384 = "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b";
const H512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const TAG128 = `v${"x".repeat(127)}`;

type Expected = Omit<ImageReference, "familiar"> & { familiar: string };

describe("parseImageReference: valid references", () => {
  const cases: Array<[string, Expected]> = [
    ["ubuntu", { domain: "docker.io", repository: "library/ubuntu", familiar: "ubuntu" }],
    ["ubuntu:22.04", { domain: "docker.io", repository: "library/ubuntu", tag: "22.04", familiar: "ubuntu:22.04" }],
    ["library/ubuntu:22.04", { domain: "docker.io", repository: "library/ubuntu", tag: "22.04", familiar: "ubuntu:22.04" }],
    ["docker.io/ubuntu", { domain: "docker.io", repository: "library/ubuntu", familiar: "ubuntu" }],
    ["docker.io/library/ubuntu:latest", { domain: "docker.io", repository: "library/ubuntu", tag: "latest", familiar: "ubuntu:latest" }],
    ["docker.io/library/a/b", { domain: "docker.io", repository: "library/a/b", familiar: "library/a/b" }],
    ["index.docker.io/x/y", { domain: "docker.io", repository: "x/y", familiar: "x/y" }],
    ["index.docker.io/ubuntu", { domain: "docker.io", repository: "library/ubuntu", familiar: "ubuntu" }],
    ["registry-1.docker.io/x", { domain: "docker.io", repository: "library/x", familiar: "x" }],
    ["registry.hub.docker.com/org/app", { domain: "docker.io", repository: "org/app", familiar: "org/app" }],
    ["Docker.IO/org/app", { domain: "docker.io", repository: "org/app", familiar: "org/app" }],
    ["org/app", { domain: "docker.io", repository: "org/app", familiar: "org/app" }],
    ["org/team/app:v1", { domain: "docker.io", repository: "org/team/app", tag: "v1", familiar: "org/team/app:v1" }],
    ["docker.io:5000/x", { domain: "docker.io", port: 5000, repository: "x", familiar: "docker.io:5000/x" }],
    ["localhost/app", { domain: "localhost", repository: "app", familiar: "localhost/app" }],
    ["localhost:5000/a/b:tag", { domain: "localhost", port: 5000, repository: "a/b", tag: "tag", familiar: "localhost:5000/a/b:tag" }],
    ["registry:5000/app", { domain: "registry", port: 5000, repository: "app", familiar: "registry:5000/app" }],
    ["192.168.1.10:5000/app", { domain: "192.168.1.10", port: 5000, repository: "app", familiar: "192.168.1.10:5000/app" }],
    ["1.2.3.4/app", { domain: "1.2.3.4", repository: "app", familiar: "1.2.3.4/app" }],
    ["[::1]:5000/a", { domain: "[::1]", port: 5000, repository: "a", familiar: "[::1]:5000/a" }],
    ["[::1]/a", { domain: "[::1]", repository: "a", familiar: "[::1]/a" }],
    ["[2001:DB8::0001]:443/team/app", { domain: "[2001:db8::1]", port: 443, repository: "team/app", familiar: "[2001:db8::1]:443/team/app" }],
    [`a.b.c/d@sha256:${H}`, { domain: "a.b.c", repository: "d", digest: `sha256:${H}`, familiar: `a.b.c/d@sha256:${H}` }],
    [
      `ghcr.io/org/img:1.0@sha256:${H}`,
      { domain: "ghcr.io", repository: "org/img", tag: "1.0", digest: `sha256:${H}`, familiar: `ghcr.io/org/img:1.0@sha256:${H}` },
    ],
    ["GHCR.IO/org/img", { domain: "ghcr.io", repository: "org/img", familiar: "ghcr.io/org/img" }],
    [
      "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1",
      { domain: "123456789012.dkr.ecr.us-east-1.amazonaws.com", repository: "team/app", tag: "v1", familiar: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1" },
    ],
    [
      "europe-west1-docker.pkg.dev/project/repo/image:tag",
      { domain: "europe-west1-docker.pkg.dev", repository: "project/repo/image", tag: "tag", familiar: "europe-west1-docker.pkg.dev/project/repo/image:tag" },
    ],
    ["myregistry.azurecr.io/samples/nginx", { domain: "myregistry.azurecr.io", repository: "samples/nginx", familiar: "myregistry.azurecr.io/samples/nginx" }],
    ["a/b/c/d/e", { domain: "docker.io", repository: "a/b/c/d/e", familiar: "a/b/c/d/e" }],
    ["0", { domain: "docker.io", repository: "library/0", familiar: "0" }],
    ["a__b", { domain: "docker.io", repository: "library/a__b", familiar: "a__b" }],
    ["a--b", { domain: "docker.io", repository: "library/a--b", familiar: "a--b" }],
    ["a---b", { domain: "docker.io", repository: "library/a---b", familiar: "a---b" }],
    ["a.b", { domain: "docker.io", repository: "library/a.b", familiar: "a.b" }],
    ["a_b", { domain: "docker.io", repository: "library/a_b", familiar: "a_b" }],
    ["org/a-b.c_d__e", { domain: "docker.io", repository: "org/a-b.c_d__e", familiar: "org/a-b.c_d__e" }],
    ["ubuntu:Tag_With.Mixed-Case", { domain: "docker.io", repository: "library/ubuntu", tag: "Tag_With.Mixed-Case", familiar: "ubuntu:Tag_With.Mixed-Case" }],
    ["ubuntu:_x", { domain: "docker.io", repository: "library/ubuntu", tag: "_x", familiar: "ubuntu:_x" }],
    [`ubuntu:${TAG128}`, { domain: "docker.io", repository: "library/ubuntu", tag: TAG128, familiar: `ubuntu:${TAG128}` }],
    [`x@sha512:${H512}`, { domain: "docker.io", repository: "library/x", digest: `sha512:${H512}`, familiar: `x@sha512:${H512}` }],
    [`x@sha384:${H384}`, { domain: "docker.io", repository: "library/x", digest: `sha384:${H384}`, familiar: `x@sha384:${H384}` }],
    [`x@blake3:${H}`, { domain: "docker.io", repository: "library/x", digest: `blake3:${H}`, familiar: `x@blake3:${H}` }],
    [
      `x@multihash+base58:${"ab".repeat(16)}`,
      { domain: "docker.io", repository: "library/x", digest: `multihash+base58:${"ab".repeat(16)}`, familiar: `x@multihash+base58:${"ab".repeat(16)}` },
    ],
    [
      `x@Foo.bar_baz-q:${"AB".repeat(20)}`,
      { domain: "docker.io", repository: "library/x", digest: `Foo.bar_baz-q:${"AB".repeat(20)}`, familiar: `x@Foo.bar_baz-q:${"AB".repeat(20)}` },
    ],
    // distribution's own readings of names that look like hosts but have no path:
    ["localhost:5000", { domain: "docker.io", repository: "library/localhost", tag: "5000", familiar: "localhost:5000" }],
    ["ghcr.io", { domain: "docker.io", repository: "library/ghcr.io", familiar: "ghcr.io" }],
    ["localhost", { domain: "docker.io", repository: "library/localhost", familiar: "localhost" }],
  ];

  it.each(cases)("%s", (input, expected) => {
    expect(parseImageReference(input)).toEqual({ ok: true, ref: expected });
  });

  it("accepts a name of exactly 255 characters (registry host included)", () => {
    const path = "a".repeat(255 - "ghcr.io/".length);
    expect(canonicalName(parsed(`ghcr.io/${path}`))).toHaveLength(255);
  });
});

describe("parseImageReference: invalid references", () => {
  const cases: Array<[string, string | RegExp]> = [
    ["", REASONS.empty],
    ["Ubuntu", REASONS.lowercase],
    ["UBUNTU:latest", REASONS.lowercase],
    ["ghcr.io/Org/img", REASONS.lowercase],
    ["Org/img", REASONS.lowercase],
    ["a/B/c", REASONS.lowercase],
    ["LOCALHOST/x", REASONS.lowercase],
    ["a//b", REASONS.emptyComponent],
    ["a/b/", REASONS.emptyComponent],
    ["/a", REASONS.emptyComponent],
    ["ghcr.io/", REASONS.emptyComponent],
    ["localhost:5000/", REASONS.emptyComponent],
    ["ghcr.io//app", REASONS.emptyComponent],
    ["a-", REASONS.component],
    ["-a", REASONS.component],
    ["a_", REASONS.component],
    ["_a", REASONS.component],
    [".a", REASONS.component],
    ["a___b", REASONS.component],
    ["a..b", REASONS.component],
    ["a._b", REASONS.component],
    ["a-.b", REASONS.component],
    ["café", REASONS.component],
    ["a%2fb", REASONS.component],
    ["a+b", REASONS.component],
    ["ubuntu:", REASONS.tagEmpty],
    [`ubuntu:${TAG128}x`, REASONS.tagTooLong],
    ["ubuntu:-x", REASONS.tag],
    ["ubuntu:.x", REASONS.tag],
    ["ubuntu:a+b", REASONS.tag],
    ["a:b:c", REASONS.tag],
    ["a/b:c:d", REASONS.tag],
    ["a b", REASONS.whitespace],
    ["ubuntu\n", REASONS.whitespace],
    ["\tubuntu", REASONS.whitespace],
    ["x@", REASONS.digestEmpty],
    ["x@sha256", REASONS.digestFormat],
    [`x@:${H}`, REASONS.digestFormat],
    ["x@sha256:", REASONS.digestFormat],
    ["x@sha256:abc", /sha256 digest must be 64 lowercase hexadecimal characters/],
    [`x@sha256:${H.slice(0, 63)}`, /sha256 digest must be 64/],
    [`x@sha256:${H}0`, /sha256 digest must be 64/],
    [`x@sha256:${H.toUpperCase()}`, /sha256 digest must be 64 lowercase/],
    [`x@sha256:${"g".repeat(64)}`, /sha256 digest must be 64/],
    [`x@SHA256:${H}`, /digest algorithm sha256 must be lowercase/],
    [`x@sha512:${H}`, /sha512 digest must be 128/],
    ["x@md5:1234", REASONS.digestHex],
    [`x@blake3:${"z".repeat(64)}`, REASONS.digestHex],
    [`x@1abc:${H}`, REASONS.digestAlgorithm],
    [`x@sha-:${H}`, REASONS.digestAlgorithm],
    [`x@sha256:${H}@sha256:${H}`, /sha256 digest must be 64/],
    [`ubuntu:tag@sha256:bad`, /sha256 digest must be 64/],
    [`@sha256:${H}`, REASONS.nameEmpty],
    [":tag", REASONS.nameEmpty],
    [H, REASONS.imageId],
    [`${H}:latest`, REASONS.imageId],
    ["https://ghcr.io/org/img", REASONS.scheme],
    ["ftp://x/y", REASONS.scheme],
    ["localhost:0/a", /registry host: port must be/],
    ["localhost:65536/a", /registry host: port must be/],
    ["localhost:/a", /registry host: port must be/],
    ["ubuntu:a/b", /registry host: port must be/],
    ["[::1/a", /registry host: IPv6 address is missing its closing bracket/],
    ["[zz::1]:5000/a", /registry host: IPv6 address is not valid/],
    ["[::1]", REASONS.hostWithoutPath],
    ["[::1]:5000", REASONS.hostWithoutPath],
    ["0x7f.0.0.1/a", /registry host: IPv4 addresses must be/],
    ["127.1:5000/a", /registry host: IPv4 addresses must be/],
    ["2130706433:5000/a", /registry host: IPv4 addresses must be/],
    ["exa_mple.com/a", /registry host: host labels/],
    ["-bad.com/a", /registry host: host labels/],
    // a first component with a dot is a host, even when the user meant a Docker Hub namespace
    ["a-b.c_d__e/f", /registry host: host labels/],
    ["ex..com/a", /registry host: host must not contain empty labels/],
    ["user@ghcr.io/a", /digest/],
    [`ghcr.io/${"a".repeat(256 - "ghcr.io/".length)}`, REASONS.nameTooLong],
    // 246 characters as typed, 264 once normalised to docker.io/library/…
    ["a".repeat(246), REASONS.nameTooLong],
    ["a".repeat(1025), REASONS.tooLong],
  ];

  it.each(cases)("%j is refused", (input, reason) => {
    expect(parseImageReference(input)).toEqual({ ok: false, reason: typeof reason === "string" ? reason : expect.stringMatching(reason) });
  });

  it("has at least 60 reference cases between the two tables", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it("never quotes the input in its reason", () => {
    const inputs = [
      "secretmarker/Upper",
      "ghcr.io/secretmarker//x",
      "secretmarker:-tag",
      "secretmarker@sha256:00",
      "secretmarker-",
      "https://secretmarker.example/app",
      "secretmarker.example:99999/app",
    ];
    for (const input of inputs) {
      expect(parseImageReference(input)).toEqual({ ok: false, reason: expect.not.stringContaining("secretmarker") });
    }
  });

  // A backtracking regex would take years on these, not a slow second: the test's timeout is the
  // bound (a hang, not a speed, is what it catches; speed is measured in bench/).
  it("refuses inputs built to make a backtracking regex explode, without hanging", { timeout: 10_000 }, () => {
    for (const input of [`${"a".repeat(200)}!`, `${"a-".repeat(100)}!`, `${"a_".repeat(100)}_`, `x@${"a.".repeat(400)}:${H}`]) {
      expect(parseImageReference(input).ok).toBe(false);
    }
  });
});

describe("parseImageAndTag", () => {
  it.each([
    ["ubuntu", undefined, "docker.io/library/ubuntu:latest", "ubuntu:latest"],
    ["ubuntu", "22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04"],
    ["ghcr.io/org/app", "v1.2.3", "ghcr.io/org/app:v1.2.3", "ghcr.io/org/app:v1.2.3"],
    ["localhost:5000/team/app", "dev", "localhost:5000/team/app:dev", "localhost:5000/team/app:dev"],
    ["index.docker.io/org/app", undefined, "docker.io/org/app:latest", "org/app:latest"],
    [`ghcr.io/org/app@sha256:${H}`, "v1", `ghcr.io/org/app@sha256:${H}`, `ghcr.io/org/app:v1@sha256:${H}`],
    [`ubuntu@sha256:${H}`, undefined, `docker.io/library/ubuntu@sha256:${H}`, `ubuntu:latest@sha256:${H}`],
  ])("%s + %s → pulls %s", (image, tag, pull, familiar) => {
    const result = parseImageAndTag(image, tag);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.ref.tag).toBe(tag ?? "latest");
    expect(pullReference(result.ref)).toBe(pull);
    expect(result.ref.familiar).toBe(familiar);
  });

  it.each([
    ["ubuntu:22.04", "22.04", "image", REASONS.tagInImage],
    ["ghcr.io/org/app:v1", undefined, "image", REASONS.tagInImage],
    ["localhost:5000/app:dev", "dev", "image", REASONS.tagInImage],
    [`ghcr.io/org/app:v1@sha256:${H}`, undefined, "image", REASONS.tagInImage],
    ["ghcr.io/Org/app", "v1", "image", REASONS.lowercase],
    ["", "v1", "image", REASONS.empty],
    ["ubuntu", "", "tag", REASONS.tagEmpty],
    ["ubuntu", "-bad", "tag", REASONS.tag],
    ["ubuntu", TAG128 + "x", "tag", REASONS.tagTooLong],
    [`ubuntu@sha256:${H}`, "bad tag", "tag", REASONS.tag],
  ] as const)("%j + %j → %s: %s", (image, tag, field, reason) => {
    expect(parseImageAndTag(image, tag)).toEqual({ ok: false, field, reason });
  });
});

describe("pullReference, referenceServer, familiarName", () => {
  it("defaults the tag to latest and prefers the digest", () => {
    expect(pullReference({ domain: "docker.io", repository: "library/ubuntu" })).toBe("docker.io/library/ubuntu:latest");
    expect(pullReference({ domain: "ghcr.io", repository: "o/a", tag: "v1", digest: `sha256:${H}` })).toBe(`ghcr.io/o/a@sha256:${H}`);
    expect(pullReference({ domain: "[::1]", port: 5000, repository: "a", tag: "t" })).toBe("[::1]:5000/a:t");
  });

  it("gives the registry's host as the reference spells it, which servesImageHost compares with a server", () => {
    const cases: Array<[string, string, string]> = [
      ["ubuntu", "docker.io", "registry-1.docker.io"],
      ["index.docker.io/org/app", "docker.io", "https://index.docker.io/v1/"],
      ["localhost:5000/app", "localhost:5000", "https://localhost:5000/"],
      ["localhost:5000/app", "localhost:5000", "http://localhost:5000/"],
      ["[0::1]:5000/app", "[::1]:5000", "[::1]:5000"],
      ["GHCR.io/org/app", "ghcr.io", "https://ghcr.io/"],
      ["ghcr.io:443/org/app", "ghcr.io:443", "ghcr.io"],
    ];
    for (const [image, server, registryServer] of cases) {
      const ref = parsed(image);
      expect(referenceServer(ref)).toBe(server);
      expect(servesImageHost(registryServer, referenceServer(ref)), `${registryServer} serves ${image}`).toBe(true);
    }
    expect(servesImageHost("docker.io", referenceServer(parsed("ghcr.io/org/app")))).toBe(false);
  });

  it("familiarName drops docker.io and library/ only where Docker does", () => {
    expect(familiarName({ domain: "docker.io", repository: "library/ubuntu" })).toBe("ubuntu");
    expect(familiarName({ domain: "docker.io", repository: "library/a/b" })).toBe("library/a/b");
    expect(familiarName({ domain: "docker.io", repository: "org/app" })).toBe("org/app");
    expect(familiarName({ domain: "docker.io", port: 5000, repository: "library/x" })).toBe("docker.io:5000/library/x");
    expect(familiarName({ domain: "ghcr.io", repository: "org/app" })).toBe("ghcr.io/org/app");
  });
});

describe("checkTag and checkDigest", () => {
  it.each(["latest", "v1", "1.0.0-rc.1", "_", "A", TAG128])("tag %s is valid", (tag) => {
    expect(checkTag(tag)).toBeUndefined();
  });

  it.each([`sha256:${H}`, `sha384:${H384}`, `sha512:${H512}`, `other:${"F".repeat(32)}`])("digest %s is valid", (digest) => {
    expect(checkDigest(digest)).toBeUndefined();
  });

  it("other algorithms need at least 32 hex characters", () => {
    expect(checkDigest(`other:${"f".repeat(31)}`)).toBe(REASONS.digestHex);
  });
});

describe("parseImageReference: the edges", () => {
  it("answers a value that is not a string, as arrives from untyped JSON, as an empty reference instead of throwing", () => {
    expect(parseImageReference(42 as unknown as string)).toEqual({ ok: false, reason: REASONS.empty });
    expect(parseImageReference(undefined as unknown as string)).toEqual({ ok: false, reason: REASONS.empty });
  });

  it("takes 1024 characters as input (the name rules answer), and refuses 1025 as too long", () => {
    expect(parseImageReference("a".repeat(1024))).toEqual({ ok: false, reason: REASONS.nameTooLong });
    expect(parseImageReference("a".repeat(1025))).toEqual({ ok: false, reason: REASONS.tooLong });
  });

  it("reads a scheme only at the start: a :// further on is a bad path", () => {
    expect(parseImageReference("ghcr.io/org/https://x")).toEqual({ ok: false, reason: REASONS.component });
  });

  it("reads the tag of an image on an IPv6 registry with a port", () => {
    expect(parseImageReference("[::1]:5000/app:v1")).toEqual({
      ok: true,
      ref: { domain: "[::1]", port: 5000, repository: "app", tag: "v1", familiar: "[::1]:5000/app:v1" },
    });
  });

  it("takes a first component in brackets for a registry host, even without a colon", () => {
    expect(parseImageReference("[abcd]/app")).toEqual({ ok: false, reason: "registry host: IPv6 address is not valid" });
  });

  it("keeps a Docker Hub alias with a port as written: another port is another registry", () => {
    expect(parseImageReference("index.docker.io:5000/x")).toEqual({
      ok: true,
      ref: { domain: "index.docker.io", port: 5000, repository: "x", familiar: "index.docker.io:5000/x" },
    });
  });

  it.each([
    ["ubuntu", ["domain", "repository", "familiar"]],
    ["localhost:5000/app", ["domain", "port", "repository", "familiar"]],
    ["ubuntu:22.04", ["domain", "repository", "tag", "familiar"]],
    [`ubuntu@sha256:${H}`, ["domain", "repository", "digest", "familiar"]],
  ])("%s has only the fields it names (no port, tag or digest set to undefined)", (input, keys) => {
    expect(Object.keys(parsed(input)).sort()).toEqual([...keys].sort());
  });
});
