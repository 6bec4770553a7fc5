import { describe, expect, it } from "vitest";
import { classifyAddress, isAllowed, type AddressClass } from "./address-policy.js";
import { resolveTarget } from "./resolve.js";
import { fakeLookup } from "@modbox/testkit/outbound";

const TABLE: ReadonlyArray<readonly [string, AddressClass]> = [
  // IPv4 public
  ["8.8.8.8", "public"],
  ["1.1.1.1", "public"],
  ["140.82.112.34", "public"],
  ["100.63.255.255", "public"], // just below CGNAT
  ["100.128.0.0", "public"], // just above CGNAT
  ["172.15.255.255", "public"], // just below 172.16/12
  ["172.32.0.0", "public"], // just above 172.16/12
  ["192.0.1.1", "public"], // between 192.0.0/24 and 192.0.2/24
  ["198.20.0.1", "public"], // just above 198.18/15
  ["223.255.255.255", "public"],
  ["169.253.255.255", "public"],
  // loopback
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["127.1.2.3", "loopback"],
  // private
  ["10.0.0.1", "private"],
  ["10.255.255.255", "private"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.0.1", "private"],
  ["192.168.255.255", "private"],
  // CGNAT
  ["100.64.0.1", "cgnat"],
  ["100.127.255.254", "cgnat"],
  // link-local and metadata
  ["169.254.0.1", "link_local"],
  ["169.254.169.253", "link_local"],
  ["169.254.169.254", "metadata"],
  ["169.254.170.2", "metadata"],
  ["169.254.170.23", "metadata"],
  ["100.100.100.200", "metadata"],
  ["168.63.129.16", "metadata"],
  // multicast, unspecified, broadcast
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["0.0.0.0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["255.255.255.255", "broadcast"],
  // reserved: future use, protocol assignments, documentation, benchmarking, 6to4 relay
  ["240.0.0.1", "reserved"],
  ["255.255.255.254", "reserved"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "reserved"],
  ["198.18.0.1", "reserved"],
  ["198.19.255.255", "reserved"],
  ["198.51.100.7", "reserved"],
  ["203.0.113.9", "reserved"],
  ["192.88.99.1", "reserved"],
  // IPv6 basics
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["0:0:0:0:0:0:0:1", "loopback"],
  ["2606:4700:4700::1111", "public"],
  ["2a00:1450:4001:82b::200e", "public"],
  ["2001:4860:4860::8888", "public"],
  ["fc00::1", "private"],
  ["fd12:3456:789a::1", "private"],
  ["fec0::1", "private"],
  ["fe80::1", "link_local"],
  ["fe80::1%eth0", "link_local"],
  ["::1%eth0.100", "loopback"], // the zone is dropped before the address is read: its dot is not an IPv4 part
  ["febf:ffff::1", "link_local"],
  ["fd00:ec2::254", "metadata"],
  ["FD00:EC2::254", "metadata"],
  ["fd00:ec2::23", "metadata"],
  ["ff02::1", "multicast"],
  ["ff05::1:3", "multicast"],
  ["2001:db8::1", "reserved"],
  ["3fff::1", "reserved"],
  ["100::1", "reserved"],
  ["2001:2::1", "reserved"], // benchmarking
  ["2001:10::1", "reserved"], // ORCHID
  ["5f00::1", "reserved"],
  ["4000::1", "reserved"], // outside 2000::/3
  ["::2", "unspecified"], // IPv4-compatible ::0.0.0.2, inside 0.0.0.0/8
  // IPv4-mapped
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:10.1.2.3", "private"],
  ["::ffff:169.254.169.254", "metadata"],
  ["::ffff:a9fe:a9fe", "metadata"],
  ["::ffff:8.8.8.8", "public"],
  ["0:0:0:0:0:ffff:192.168.1.1", "private"],
  ["::ffff:0.0.0.0", "unspecified"],
  ["::ffff:255.255.255.255", "broadcast"],
  // IPv4-compatible (deprecated)
  ["::127.0.0.1", "loopback"],
  ["::10.0.0.1", "private"],
  ["::169.254.169.254", "metadata"],
  ["::8.8.8.8", "reserved"],
  // NAT64
  ["64:ff9b::127.0.0.1", "loopback"],
  ["64:ff9b::a9fe:a9fe", "metadata"],
  ["64:ff9b::10.0.0.1", "private"],
  ["64:ff9b::8.8.8.8", "public"],
  ["64:ff9b:1::a00:1", "reserved"], // local-use NAT64
  // 6to4
  ["2002:7f00:1::1", "loopback"],
  ["2002:a9fe:a9fe::", "metadata"],
  ["2002:c0a8:101::1", "private"],
  ["2002:808:808::1", "public"],
  // Teredo (client address is the bitwise NOT of the last 32 bits)
  ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"], // ~127.0.0.1
  ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"], // ~10.0.0.1
  ["2001:0:4136:e378:8000:63bf:5601:5601", "metadata"], // ~169.254.169.254
  ["2001:0:4136:e378:8000:63bf:5601:5656", "link_local"], // ~169.254.169.169
  ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", "reserved"], // ~8.8.8.8: public payload
];

describe("classifyAddress", () => {
  it("has a table of at least 60 addresses covering every class", () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(60);
    const classes = new Set(TABLE.map(([, cls]) => cls));
    expect([...classes].sort()).toEqual(
      ["broadcast", "cgnat", "link_local", "loopback", "metadata", "multicast", "private", "public", "reserved", "unspecified"].sort(),
    );
  });

  it.each(TABLE)("%s → %s", (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it("throws a TypeError for anything that is not a literal address", () => {
    for (const bad of ["", "localhost", "127.1", "2130706433", "0x7f.0.0.1", "1.2.3.4.5", "::ffff:1.2.3", "[::1]", "gggg::1"]) {
      expect(() => classifyAddress(bad), bad).toThrow(new TypeError("classifyAddress expects a literal IPv4 or IPv6 address"));
    }
  });
});

describe("isAllowed", () => {
  const all: AddressClass[] = ["public", "loopback", "private", "cgnat", "link_local", "metadata", "multicast", "unspecified", "broadcast", "reserved"];

  it("allows only public addresses by default", () => {
    expect(all.filter((cls) => isAllowed(cls, { allowPrivate: false }))).toEqual(["public"]);
  });

  it("adds loopback, private and CGNAT with allowPrivate, never the rest", () => {
    expect(all.filter((cls) => isAllowed(cls, { allowPrivate: true }))).toEqual(["public", "loopback", "private", "cgnat"]);
  });

  it.each(["link_local", "metadata", "multicast", "unspecified", "broadcast", "reserved"] as const)("answers false for %s, with or without allowPrivate", (cls) => {
    expect(isAllowed(cls, { allowPrivate: false })).toBe(false);
    expect(isAllowed(cls, { allowPrivate: true })).toBe(false);
  });
});

describe("legacy numeric IPv4 forms given as host names", () => {
  // What getaddrinfo (inet_aton) makes of them; the fake DNS answers the same in case a name
  // reaches it. resolveTarget normalises them WHATWG-style and checks the literal.
  const FORMS: ReadonlyArray<readonly [string, string, AddressClass]> = [
    ["2130706433", "127.0.0.1", "loopback"],
    ["0x7f000001", "127.0.0.1", "loopback"],
    ["017700000001", "127.0.0.1", "loopback"],
    ["0177.0.0.1", "127.0.0.1", "loopback"],
    ["0x7f.0.0.1", "127.0.0.1", "loopback"],
    ["127.1", "127.0.0.1", "loopback"],
    ["0x7f.1", "127.0.0.1", "loopback"],
    ["2852039166", "169.254.169.254", "metadata"],
    ["0xa9fea9fe", "169.254.169.254", "metadata"],
    ["0251.0376.0251.0376", "169.254.169.254", "metadata"],
    ["169.254.43518", "169.254.169.254", "metadata"],
    ["167772161", "10.0.0.1", "private"],
    ["012.0.0.1", "10.0.0.1", "private"],
    ["0", "0.0.0.0", "unspecified"],
  ];

  it.each(FORMS)("%s means %s (%s) and is refused", async (host, ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
    const lookup = fakeLookup({ [host]: [ip] });
    await expect(resolveTarget(host, { allowPrivate: false, lookup })).rejects.toMatchObject({
      code: "address_not_allowed",
      detail: expect.stringContaining(cls.replace("_", "-")),
    });
  });

  it("checks the literal the form denotes without asking DNS", async () => {
    const lookup = fakeLookup({});
    const target = await resolveTarget("0x7f.1", { allowPrivate: true, lookup });
    expect(target).toMatchObject({ address: "127.0.0.1", literal: true });
    expect(lookup.calls).toEqual([]);
  });
});
