import { describe, expect, it } from "vitest";
import { parseImageReference } from "../registry-protocol/reference.js";
import { registryMismatch } from "./registry-mismatch.js";

const ref = (image: string) => {
  const parsed = parseImageReference(image);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.ref;
};

describe("registryMismatch", () => {
  it.each([
    ["ghcr.io/acme/app", "ghcr.io"],
    ["ghcr.io/acme/app", "ghcr.io/acme"],
    ["ghcr.io:443/acme/app", "ghcr.io/acme"],
    ["ubuntu", "docker.io/library"],
    ["acme/app", "docker.io/acme"],
    ["registry.lan/team/app", "http://registry.lan/team"],
  ])("%s is served by %s", (image, server) => {
    expect(registryMismatch(ref(image), server)).toBeNull();
  });

  it("another host: names the image's host and the registry's server", () => {
    expect(registryMismatch(ref("quay.io/acme/app"), "ghcr.io/acme")).toEqual({
      detail: "The image is hosted on quay.io, but the registry's server is ghcr.io/acme: link a registry for quay.io, or use an image from ghcr.io/acme.",
      extensions: { image_host: "quay.io", registry_server: "ghcr.io/acme" },
    });
  });

  it("the host but not the prefix: names the image and the server, and that the match is by path segment", () => {
    const mismatch = registryMismatch(ref("ghcr.io/acmecorp/app"), "ghcr.io/acme");
    expect(mismatch?.extensions).toEqual({ image_host: "ghcr.io", registry_server: "ghcr.io/acme" });
    expect(mismatch?.detail).toBe(
      "The image ghcr.io/acmecorp/app is not under the registry's server ghcr.io/acme (its repository path must be the server's " +
        "path or lie under it, segment by segment): link a registry for ghcr.io or for a path that ghcr.io/acmecorp/app starts " +
        "with, or use an image under ghcr.io/acme/.",
    );
  });

  it("Docker Hub's prefixes compare with canonical repositories (ubuntu is library/ubuntu)", () => {
    expect(registryMismatch(ref("ubuntu"), "docker.io/acme")?.detail).toMatch(/^The image docker\.io\/library\/ubuntu is not under/);
  });
});
