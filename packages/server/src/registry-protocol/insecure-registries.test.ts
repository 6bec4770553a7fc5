import { describe, expect, it } from "vitest";
import { NO_INSECURE_REGISTRIES, parseInsecureRegistries, type InsecureRegistries } from "./insecure-registries.js";

function parsed(spec: string): InsecureRegistries {
  const result = parseInsecureRegistries(spec);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(spec)} to parse: ${result.errors.join("; ")}`);
  return result.registries;
}

describe("parseInsecureRegistries", () => {
  it("normalises host entries as registry servers are, and keeps CIDR ranges", () => {
    expect(parsed(" Registry.LAN:5000 ,10.0.0.0/8,, [0:0:0:0:0:0:0:1]:5000, registry.lan:80, fd00::/8 ").entries).toEqual([
      "registry.lan:5000",
      "10.0.0.0/8",
      "[::1]:5000",
      "registry.lan",
      "fd00::/8",
    ]);
  });

  it("lists nothing for an empty list", () => {
    expect(parsed("")).toBe(NO_INSECURE_REGISTRIES);
    expect(parsed(" , ,")).toBe(NO_INSECURE_REGISTRIES);
    expect(NO_INSECURE_REGISTRIES.allows("registry.lan:5000")).toBe(false);
  });

  it.each([
    // entries, host[:port] of an http server, allowed
    ["registry.lan:5000", "registry.lan:5000", true],
    ["registry.lan:5000", "REGISTRY.lan:5000", true],
    // As Docker: a host entry is that host[:port] exactly; no port is port 80.
    ["registry.lan:5000", "registry.lan", false],
    ["registry.lan:5000", "registry.lan:5001", false],
    ["registry.lan", "registry.lan", true],
    ["registry.lan", "registry.lan:80", true],
    ["registry.lan:80", "registry.lan", true],
    ["registry.lan", "registry.lan:5000", false],
    ["registry.lan", "other.lan", false],
    ["registry.lan", "sub.registry.lan", false],
    ["localhost:5000", "localhost:5000", true],
    ["[::1]:5000", "[0::1]:5000", true],
    // A CIDR range: any port of a server written as an address in it; never a host name.
    ["10.0.0.0/8", "10.1.2.3:5000", true],
    ["10.0.0.0/8", "10.1.2.3", true],
    ["10.0.0.0/8", "11.0.0.1:5000", false],
    ["127.0.0.1/32", "127.0.0.1:5000", true],
    ["127.0.0.1/32", "localhost:5000", false],
    ["fd00::/8", "[fd00::5]:5000", true],
    ["fd00::/8", "[fe80::1]:5000", false],
    ["0.0.0.0/0", "registry.lan:5000", false],
    // Nothing is implied: loopback needs an entry like any other.
    ["registry.lan", "127.0.0.1:5000", false],
    // Input that does not normalise is never allowed.
    ["registry.lan", "registry.lan/path", false],
    ["registry.lan", "", false],
  ])("%s allows http://%s: %s", (spec, hostPort, allowed) => {
    expect(parsed(spec).allows(hostPort)).toBe(allowed);
  });

  it.each([
    ["http://registry.lan:5000", /without a scheme/],
    ["https://registry.lan", /without a scheme/],
    ["*.lan", /wildcards are not supported/],
    ["registry.lan/v2", /CIDR range is an IPv4 or IPv6 address/],
    ["10.0.0.0/33", /prefix length must be a number from 0 to 32/],
    ["fd00::/129", /prefix length must be a number from 0 to 128/],
    ["10.0.0.0/08", /prefix length/],
    ["10.0.0.0/", /prefix length/],
    ["myregistry", /needs a dot, a port or to be localhost/],
    ["registry.lan:0", /port must be a number/],
    ["0x7f.0.0.1", /IPv4 addresses must be four decimal octets/],
    ["docker.io", /Docker Hub is served over https only/],
    ["user@registry.lan", /user name/],
  ])("refuses %s", (entry, reason) => {
    const result = parseInsecureRegistries(`ok.lan:5000, ${entry}`);
    expect(result).toEqual({ ok: false, errors: [expect.stringMatching(reason)] });
    expect(!result.ok && result.errors[0]).toMatch(/^entry 2 \(/);
  });

  it("reports every bad entry, each by position", () => {
    expect(parseInsecureRegistries("http://a.lan, ok.lan, b.lan:99999")).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^entry 1 \("http:\/\/a\.lan"\)/), expect.stringMatching(/^entry 3 \("b\.lan:99999"\)/)],
    });
  });
});

describe("parseInsecureRegistries: entries", () => {
  it("lists an entry written twice once, and still allows it", () => {
    const registries = parsed("registry.lan, REGISTRY.lan:80, 10.0.0.0/8, 10.0.0.0/8");
    expect(registries.entries).toEqual(["registry.lan", "10.0.0.0/8"]);
    expect(registries.allows("registry.lan")).toBe(true);
    expect(registries.allows("10.9.8.7:5000")).toBe(true);
  });

  it("keeps an IPv6 range in lowercase", () => {
    const registries = parsed("FD00::/8");
    expect(registries.entries).toEqual(["fd00::/8"]);
    expect(registries.allows("[fd00::1]:5000")).toBe(true);
  });

  it.each(["010.0.0.0/8", "10.0.0.00/8"])("refuses %s: an octet with a leading zero is not an IPv4 address", (entry) => {
    expect(parseInsecureRegistries(entry)).toEqual({
      ok: false,
      errors: [`entry 1 (${JSON.stringify(entry)}): a CIDR range is an IPv4 or IPv6 address, a slash and a prefix length (10.0.0.0/8, fd00::/8)`],
    });
  });

  it("quotes a bad entry of 80 characters whole, and a longer one cut to 80 with an ellipsis", () => {
    const eighty = `http://${"a".repeat(73)}`;
    const reason = "write host[:port] without a scheme (the registry's server says http://, this list says which hosts may use it)";
    expect(eighty).toHaveLength(80);
    expect(parseInsecureRegistries(eighty)).toEqual({ ok: false, errors: [`entry 1 (${JSON.stringify(eighty)}): ${reason}`] });
    expect(parseInsecureRegistries(`${eighty}bc`)).toEqual({ ok: false, errors: [`entry 1 (${JSON.stringify(`${eighty}…`)}): ${reason}`] });
  });
});
