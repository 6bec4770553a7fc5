/**
 * Which IP addresses an outbound call (credential verification, pull checks) may connect to.
 *
 * `classifyAddress` puts an IPv4 or IPv6 address in one class; `isAllowed` says whether the
 * class may be contacted. IPv6 forms that carry an IPv4 address (`::ffff:a.b.c.d` mapped,
 * `::a.b.c.d` compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) are
 * classified by the IPv4 address inside, because that is where the packets end up.
 *
 * Decisions:
 * - Only `2000::/3` (global unicast) minus its special ranges is `public` in IPv6; anything else
 *   that no rule names is `reserved`.
 * - IPv4-compatible (`::a.b.c.d`, deprecated) and Teredo (deprecated tunnelling) addresses take
 *   the class of the embedded IPv4 address when that class is not public; with a public
 *   embedded address they are `reserved`: no registry lives there, and refusing them closes a
 *   tunnelling path. NAT64 and 6to4 with a public embedded address are `public` (IPv6-only
 *   clusters reach registries through NAT64).
 * - `metadata` names the cloud instance-metadata and platform endpoints an SSRF goes for
 *   (AWS/GCP/Azure/Oracle/DigitalOcean 169.254.169.254, AWS ECS 169.254.170.2, EKS Pod Identity
 *   169.254.170.23, AWS IPv6 fd00:ec2::254 and fd00:ec2::23, Alibaba 100.100.100.200, Azure
 *   WireServer 168.63.129.16). They are never allowed, even with `allowPrivate`.
 */
import { isIPv4, isIPv6 } from "node:net";

export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "cgnat"
  | "link_local"
  | "metadata"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "reserved";

/** The environment variable that sets `allowPrivate`; named in refusals so an operator learns it. */
export const ALLOW_PRIVATE_VARIABLE = "MODBOX_OUTBOUND_ALLOW_PRIVATE";

export interface AddressPolicy {
  /** Operators opt in for self-hosted registries and tests: loopback, private and CGNAT. */
  allowPrivate: boolean;
}

/**
 * `public` always; `loopback`, `private`, `cgnat` only with `allowPrivate`; every other class
 * never.
 *
 * @example isAllowed(classifyAddress("10.0.0.5"), { allowPrivate: false }) // false
 */
export function isAllowed(cls: AddressClass, policy: AddressPolicy): boolean {
  switch (cls) {
    case "public":
      return true;
    case "loopback":
    case "private":
    case "cgnat":
      return policy.allowPrivate;
    case "link_local":
    case "metadata":
    case "multicast":
    case "unspecified":
    case "broadcast":
    case "reserved":
      return false;
  }
}

/** True for a literal IPv4 or IPv6 address (an IPv6 zone id `%eth0` is accepted). */
export function isIpLiteral(value: string): boolean {
  return isIPv4(value) || isIPv6(stripZone(value));
}

/**
 * Classifies one literal IP address (dotted-quad IPv4, or IPv6 with an optional zone id).
 * Throws a `TypeError` for anything else: resolve names first (see `resolveTarget`).
 *
 * @example classifyAddress("::ffff:169.254.169.254") // "metadata"
 * @example classifyAddress("64:ff9b::a00:1")          // "private" (NAT64 of 10.0.0.1)
 */
export function classifyAddress(ip: string): AddressClass {
  if (isIPv4(ip)) return classifyV4(parseV4(ip));
  const bare = stripZone(ip);
  if (isIPv6(bare)) return classifyV6(parseV6(bare));
  throw new TypeError("classifyAddress expects a literal IPv4 or IPv6 address");
}

// ---------------------------------------------------------------------------------------------
// IPv4

type Rule = readonly [prefix: Uint8Array, bits: number, cls: AddressClass];

/** First match wins: the single metadata addresses come before the ranges that hold them. */
const V4_RULES: readonly Rule[] = [
  v4Rule("169.254.169.254/32", "metadata"),
  v4Rule("169.254.170.2/32", "metadata"),
  v4Rule("169.254.170.23/32", "metadata"),
  v4Rule("100.100.100.200/32", "metadata"),
  v4Rule("168.63.129.16/32", "metadata"),
  v4Rule("0.0.0.0/8", "unspecified"),
  v4Rule("10.0.0.0/8", "private"),
  v4Rule("100.64.0.0/10", "cgnat"),
  v4Rule("127.0.0.0/8", "loopback"),
  v4Rule("169.254.0.0/16", "link_local"),
  v4Rule("172.16.0.0/12", "private"),
  v4Rule("192.0.0.0/24", "reserved"), // IETF protocol assignments
  v4Rule("192.0.2.0/24", "reserved"), // TEST-NET-1
  v4Rule("192.88.99.0/24", "reserved"), // deprecated 6to4 relay anycast
  v4Rule("192.168.0.0/16", "private"),
  v4Rule("198.18.0.0/15", "reserved"), // benchmarking
  v4Rule("198.51.100.0/24", "reserved"), // TEST-NET-2
  v4Rule("203.0.113.0/24", "reserved"), // TEST-NET-3
  v4Rule("224.0.0.0/4", "multicast"),
  v4Rule("255.255.255.255/32", "broadcast"),
  v4Rule("240.0.0.0/4", "reserved"),
];

function classifyV4(bytes: Uint8Array): AddressClass {
  return firstMatch(V4_RULES, bytes) ?? "public";
}

// ---------------------------------------------------------------------------------------------
// IPv6

const V6_RULES: readonly Rule[] = [
  v6Rule("fd00:ec2::254/128", "metadata"),
  v6Rule("fd00:ec2::23/128", "metadata"),
  v6Rule("64:ff9b:1::/48", "reserved"), // local-use NAT64: embedded position not fixed
  v6Rule("100::/64", "reserved"), // discard-only
  v6Rule("2001:db8::/32", "reserved"), // documentation
  v6Rule("2001::/23", "reserved"), // IETF protocol assignments (benchmarking, ORCHID, …)
  v6Rule("3fff::/20", "reserved"), // documentation (RFC 9637)
  v6Rule("5f00::/16", "reserved"), // SRv6 SIDs
  v6Rule("fc00::/7", "private"), // unique local
  v6Rule("fe80::/10", "link_local"),
  v6Rule("fec0::/10", "private"), // deprecated site-local
  v6Rule("ff00::/8", "multicast"),
  v6Rule("2000::/3", "public"),
];

const MAPPED = v6Prefix("::ffff:0:0/96");
const COMPAT = v6Prefix("::/96");
const NAT64 = v6Prefix("64:ff9b::/96");
const SIX_TO_FOUR = v6Prefix("2002::/16");
const TEREDO = v6Prefix("2001::/32");

function classifyV6(b: Uint8Array): AddressClass {
  // `::` itself is the IPv4-compatible 0.0.0.0, which the IPv4 rules call unspecified.
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return "loopback";
  if (matches(b, MAPPED)) return classifyV4(b.subarray(12, 16));
  if (matches(b, NAT64)) return classifyV4(b.subarray(12, 16));
  if (matches(b, SIX_TO_FOUR)) return classifyV4(b.subarray(2, 6));
  if (matches(b, COMPAT)) return tunnelled(classifyV4(b.subarray(12, 16)));
  if (matches(b, TEREDO)) return tunnelled(classifyV4(b.subarray(12, 16).map((x) => ~x & 0xff)));
  return firstMatch(V6_RULES, b) ?? "reserved";
}

/** Deprecated carriers of an IPv4 address: a public payload is no registry, so `reserved`. */
function tunnelled(inner: AddressClass): AddressClass {
  return inner === "public" ? "reserved" : inner;
}

// ---------------------------------------------------------------------------------------------
// Parsing and prefix matching (inputs are validated by node:net first)

function stripZone(ip: string): string {
  const percent = ip.indexOf("%");
  return percent === -1 ? ip : ip.slice(0, percent);
}

function parseV4(ip: string): Uint8Array {
  return Uint8Array.from(ip.split(".").map(Number));
}

function parseV6(ip: string): Uint8Array {
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const v4 = parseV4(text.slice(lastColon + 1));
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    text = text.slice(0, lastColon + 1);
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  // The hex groups between the colons (parseInt reads either case); an empty side has none.
  const groups = (part: string): number[] => Array.from(part.matchAll(/[^:]+/g), ([g]) => parseInt(g, 16));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  // Without "::" the groups are eight already, and nothing is filled in.
  const fill = new Array<number>(8 - left.length - right.length - tail.length).fill(0);
  const all = [...left, ...fill, ...right, ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

interface Prefix {
  bytes: Uint8Array;
  bits: number;
}

function v6Prefix(cidr: string): Prefix {
  const [ip, bits] = cidr.split("/") as [string, string];
  return { bytes: parseV6(ip), bits: Number(bits) };
}

function v4Rule(cidr: string, cls: AddressClass): Rule {
  const [ip, bits] = cidr.split("/") as [string, string];
  return [parseV4(ip), Number(bits), cls];
}

function v6Rule(cidr: string, cls: AddressClass): Rule {
  const { bytes, bits } = v6Prefix(cidr);
  return [bytes, bits, cls];
}

function firstMatch(rules: readonly Rule[], bytes: Uint8Array): AddressClass | undefined {
  return rules.find(([prefix, bits]) => matches(bytes, { bytes: prefix, bits }))?.[2];
}

function matches(bytes: Uint8Array, prefix: Prefix): boolean {
  // Stryker disable next-line EqualityOperator: a pass at bit === prefix.bits has a span of 0, so its mask is 0 and it compares nothing
  for (let bit = 0; bit < prefix.bits; bit += 8) {
    const i = bit / 8;
    const span = Math.min(8, prefix.bits - bit);
    const mask = (0xff << (8 - span)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}
