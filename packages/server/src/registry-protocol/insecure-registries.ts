/**
 * The operator's list of registries that may be spoken to over plain HTTP
 * (`MODBOX_INSECURE_REGISTRIES`), after the Docker daemon's `insecure-registries`:
 * comma-separated entries, each either
 *
 * - a registry host, `host[:port]` (`registry.lan:5000`, `10.0.0.5:5000`, `[fd00::5]:5000`,
 *   `registry.lan`), matched exactly, as Docker matches its entries: `registry.lan` is
 *   `http://registry.lan` (port 80) and nothing else, `registry.lan:5000` only that port. The
 *   host follows the rules of a registry server (hosts.ts): lowercase, canonical IP forms, a dot,
 *   a port or `localhost`; `:80` is the same entry as no port;
 * - or a CIDR range, `10.0.0.0/8`, `fd00::/8`: any port of a server *written as an IP address*
 *   in that range. Unlike Docker, a host name is never resolved to be matched against a range:
 *   the list is checked when a registry is saved, where resolving would tie the answer to that
 *   moment's DNS. List such hosts by name.
 *
 * What Docker does and this does not: no entry is implied (Docker treats 127.0.0.0/8 and ::1 as
 * insecure by default; here loopback needs an entry like any other), and an entry does not relax
 * TLS for https servers (Docker also accepts unknown certificates from a listed host; here, give
 * the registry its `ca_certificate`). The scheme is never guessed either: a listed host is spoken
 * to over http only when its server is written `http://…`, never as a fallback from https.
 *
 * A listed host changes only what this server may do (save an `http://` server, verify it, check
 * its pulls over http). Handing the credential to a provisioner does not depend on it: the
 * runtime that pulls has its own insecure-registries setting (see `PullCredentials` in the
 * contract).
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { normaliseServer } from "./hosts.js";

/** The environment variable the operator sets; named in messages that tell them how to allow more. */
export const INSECURE_REGISTRIES_VARIABLE = "MODBOX_INSECURE_REGISTRIES";

export interface InsecureRegistries {
  /** The entries, normalised (`registry.lan:5000`, `10.0.0.0/8`), in the order given. */
  readonly entries: readonly string[];
  /**
   * True when a server `http://<hostPort>` may be spoken to. `hostPort` is `host[:port]` as in a
   * stored http server or a URL's `host` (port 80 left out, IPv6 in brackets); anything that does
   * not normalise is never allowed.
   */
  allows(hostPort: string): boolean;
}

/** Nothing may be spoken to over plain HTTP: the default. */
export const NO_INSECURE_REGISTRIES: InsecureRegistries = { entries: [], allows: () => false };

export type ParseInsecureRegistriesResult =
  | { ok: true; registries: InsecureRegistries }
  | { ok: false; errors: string[] };

/**
 * Parses the comma-separated list. Whitespace around entries and empty entries (a trailing comma)
 * are ignored. Every bad entry is reported, by position and with the entry itself (the list holds
 * host names, never secrets).
 *
 * @example parseInsecureRegistries("registry.lan:5000, 10.0.0.0/8")
 * // { ok: true, registries: { entries: ["registry.lan:5000", "10.0.0.0/8"], allows } }
 * @example parseInsecureRegistries("http://registry.lan")
 * // { ok: false, errors: ['entry 1 ("http://registry.lan"): write host[:port] without a scheme …'] }
 */
export function parseInsecureRegistries(spec: string): ParseInsecureRegistriesResult {
  const hosts = new Set<string>();
  const ranges = new BlockList();
  const entries: string[] = [];
  const errors: string[] = [];
  const items = spec.split(",").map((item) => item.trim());
  items.forEach((item, index) => {
    if (item === "") return;
    const parsed = parseEntry(item);
    if (!parsed.ok) {
      errors.push(`entry ${index + 1} (${JSON.stringify(item.length > 80 ? `${item.slice(0, 80)}…` : item)}): ${parsed.reason}`);
      return;
    }
    if (parsed.range === undefined) hosts.add(parsed.entry);
    else ranges.addSubnet(parsed.range.network, parsed.range.prefix, parsed.range.family);
    if (!entries.includes(parsed.entry)) entries.push(parsed.entry);
  });
  if (errors.length > 0) return { ok: false, errors };
  if (entries.length === 0) return { ok: true, registries: NO_INSECURE_REGISTRIES };

  return {
    ok: true,
    registries: {
      entries,
      allows(hostPort: string): boolean {
        const normalised = normaliseServer(`http://${hostPort}`);
        // Entries name hosts; a repository path has no business here (the caller passes hosts).
        if (!normalised.ok || normalised.path !== "") return false;
        if (hosts.has(normalised.host)) return true;
        const address = ipOf(normalised.host);
        return address !== undefined && ranges.check(address.ip, address.family);
      },
    },
  };
}

/** A host entry, or a CIDR range (`range`) of IP addresses. */
type Entry =
  | { ok: true; entry: string; range?: { network: string; prefix: number; family: "ipv4" | "ipv6" } }
  | { ok: false; reason: string };

function parseEntry(item: string): Entry {
  if (item.includes("://")) {
    return { ok: false, reason: "write host[:port] without a scheme (the registry's server says http://, this list says which hosts may use it)" };
  }
  if (item.includes("*")) return { ok: false, reason: "wildcards are not supported: list each host[:port], or a CIDR range of IP addresses" };
  const slash = item.indexOf("/");
  if (slash !== -1) return parseRange(item, slash);
  const normalised = normaliseServer(`http://${item}`);
  if (!normalised.ok) return { ok: false, reason: `not a registry host[:port] or a CIDR range: ${normalised.reason}` };
  return { ok: true, entry: normalised.host };
}

function parseRange(item: string, slash: number): Entry {
  const address = item.slice(0, slash);
  const prefixText = item.slice(slash + 1);
  const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
  if (family === undefined) return { ok: false, reason: "a CIDR range is an IPv4 or IPv6 address, a slash and a prefix length (10.0.0.0/8, fd00::/8)" };
  const max = family === "ipv4" ? 32 : 128;
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > max) {
    return { ok: false, reason: `the prefix length must be a number from 0 to ${max}` };
  }
  const prefix = Number(prefixText);
  // isIPv4 already refuses leading zeros (`010.0.0.0`), which some parsers read as octal.
  return { ok: true, entry: `${address.toLowerCase()}/${prefix}`, range: { network: address, prefix, family } };
}

/** The IP address of an IP-literal `host[:port]` (IPv6 in brackets), or undefined for a host name. */
function ipOf(hostPort: string): { ip: string; family: "ipv4" | "ipv6" } | undefined {
  if (hostPort.startsWith("[")) {
    const ip = hostPort.slice(1, hostPort.indexOf("]"));
    return isIPv6(ip) ? { ip, family: "ipv6" } : undefined;
  }
  const host = hostPort.includes(":") ? hostPort.slice(0, hostPort.indexOf(":")) : hostPort;
  return isIPv4(host) ? { ip: host, family: "ipv4" } : undefined;
}
