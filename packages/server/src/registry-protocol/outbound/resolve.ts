/**
 * Resolve a target host once and check every address it resolves to, before any connection.
 *
 * The caller then connects to exactly these checked addresses (see `pinnedLookup` in http.ts),
 * so a second, different DNS answer (rebinding) can never be used.
 */
import { promises as dns } from "node:dns";
import { isIPv4, isIPv6 } from "node:net";
import { ALLOW_PRIVATE_VARIABLE, classifyAddress, isAllowed, isIpLiteral, type AddressClass, type AddressPolicy } from "./address-policy.js";
import { OutboundError } from "./errors.js";

export interface LookupAddress {
  address: string;
  family: number;
}

/** The shape of `dns.promises.lookup(host, { all: true, verbatim: true })`; injectable for tests. */
export type LookupFn = (hostname: string, options: { all: true; verbatim: true }) => Promise<LookupAddress[]>;

export const systemLookup: LookupFn = (hostname, options) => dns.lookup(hostname, options);

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
  addressClass: AddressClass;
}

export interface ResolvedTarget {
  /** Normalised host name for SNI and `Host` (IPv6 literals without brackets). */
  hostname: string;
  /** True when the host was an IP literal (no DNS, no SNI). */
  literal: boolean;
  /** Every address of the answer, in resolver order; all of them passed the policy. */
  addresses: readonly CheckedAddress[];
  /** The first checked address: the one to pin when a single address is wanted. */
  address: string;
  family: 4 | 6;
}

export interface ResolveOptions extends AddressPolicy {
  lookup?: LookupFn;
  /** Aborts the wait for DNS (the lookup itself cannot be cancelled). */
  signal?: AbortSignal;
}

/**
 * Resolves `host` (a hostname, an IPv4 literal, or an IPv6 literal with or without brackets)
 * with ONE lookup and refuses it if ANY returned address is not allowed: a split answer (one
 * public, one private address) is refused as a whole. IP literals are checked without DNS.
 * Legacy numeric IPv4 forms (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) are normalised the
 * WHATWG-URL way and checked as the literal they denote.
 *
 * @throws OutboundError `address_not_allowed` (detail names the class, never the addresses),
 *   `invalid_target`, `unreachable` (name not found, empty answer), `timeout` (signal aborted).
 * @example
 * const target = await resolveTarget("ghcr.io", { allowPrivate: false });
 * target.addresses // every address, each classified "public"
 */
export async function resolveTarget(host: string, options: ResolveOptions): Promise<ResolvedTarget> {
  const hostname = normaliseHost(host);
  if (isIpLiteral(hostname)) {
    const checked = check(hostname, options, true);
    return { hostname, literal: true, addresses: [checked], address: checked.address, family: checked.family };
  }

  const answer = await lookupOnce(hostname, options);
  if (answer.length === 0) throw new OutboundError("unreachable", "the host name has no addresses");
  const addresses = answer.map((entry) => check(entry.address, options, false));
  const [first] = addresses as [CheckedAddress, ...CheckedAddress[]];
  return { hostname, literal: false, addresses, address: first.address, family: first.family };
}

function check(address: string, policy: AddressPolicy, literal: boolean): CheckedAddress {
  const family = isIPv4(address) ? 4 : isIpLiteral(address) ? 6 : 0;
  if (family === 0) {
    throw new OutboundError("address_not_allowed", "the host name resolves to something that is not an IP address");
  }
  const addressClass = classifyAddress(address);
  if (!isAllowed(addressClass, policy)) {
    const what = literal ? "the address is" : "the host name resolves to";
    // Words only: the switch that would allow it (or that nothing does), never the address.
    const why = isAllowed(addressClass, { allowPrivate: true })
      ? `outbound calls may not reach it unless the operator sets ${ALLOW_PRIVATE_VARIABLE}=true`
      : `outbound calls never reach it, not even with ${ALLOW_PRIVATE_VARIABLE}=true`;
    throw new OutboundError("address_not_allowed", `${what} ${article(addressClass)} ${addressClass.replace("_", "-")} address; ${why}`);
  }
  return { address, family, addressClass };
}

async function lookupOnce(hostname: string, options: ResolveOptions): Promise<LookupAddress[]> {
  const lookup = options.lookup ?? systemLookup;
  const { signal } = options;
  if (signal?.aborted) throw new OutboundError("timeout", "resolving the host name took too long");
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new OutboundError("timeout", "resolving the host name took too long"));
    signal?.addEventListener("abort", onAbort);
  });
  try {
    const answer = await Promise.race([lookup(hostname, { all: true, verbatim: true }), aborted]);
    if (!Array.isArray(answer)) throw new OutboundError("unreachable", "the host name has no addresses");
    return answer;
  } catch (err) {
    if (err instanceof OutboundError) throw err;
    throw new OutboundError("unreachable", "the host name could not be resolved", { cause: err });
  } finally {
    signal?.removeEventListener("abort", onAbort);
    aborted.catch(() => undefined);
  }
}

/**
 * A bare host (no port, path or userinfo) → lowercase ASCII hostname or IP literal.
 * The detail never repeats the input: it may carry userinfo.
 */
function normaliseHost(host: string): string {
  if (host.startsWith("[") && host.endsWith("]") && isIPv6(host.slice(1, -1))) return host.slice(1, -1).toLowerCase();
  if (isIpLiteral(host)) return host.toLowerCase();
  // An empty host passes this check; the URL parser below refuses it.
  if (host.length > 253 || /[\s/\\?#@:[\]%]/.test(host)) {
    throw new OutboundError("invalid_target", "the host is not a valid host name");
  }
  let url: URL;
  try {
    url = new URL(`https://${host}/`);
  } catch (err) {
    throw new OutboundError("invalid_target", "the host is not a valid host name", { cause: err });
  }
  // The character check above leaves no way to a bracketed (IPv6) host name, a port, userinfo
  // or a path here (the URL parser refuses an empty host name, and what IDNA maps to one of those
  // characters; every single code point was tried). Checked again all the same: this guards the
  // SSRF policy, and a later change to the check above must not open it.
  // Stryker disable next-line all: defence in depth; no input reaches it past the character check above
  if (url.hostname === "" || url.port !== "" || url.username !== "" || url.pathname !== "/") throw new OutboundError("invalid_target", "the host is not a valid host name");
  return url.hostname;
}

function article(cls: AddressClass): string {
  return /^[aeiou]/.test(cls) ? "an" : "a";
}
