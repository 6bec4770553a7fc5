import { isIPv4, isIPv6 } from "node:net";

/**
 * Counts failed authentications per client address in fixed windows, so that an address that
 * keeps presenting tokens we do not know is refused before its guesses reach the database.
 *
 * IPv6 clients are counted per /64: one host usually holds a whole /64 and can pick any address
 * in it, so counting single addresses would let it reset its count at will. IPv4-mapped IPv6
 * (`::ffff:192.0.2.1`, what a dual-stack socket reports) counts as the IPv4 address.
 */
export interface AddressLimiter {
  /** Seconds until this address may present unknown tokens again; 0 when it may now. */
  blockedFor(address: string | undefined): number;
  /** Counts one failed authentication from this address. */
  recordFailure(address: string | undefined): void;
}

export interface AddressLimiterOptions {
  /** Failed authentications an address may make per window; 0 turns the limiter off. */
  maxFailures: number;
  windowMs: number;
  now?: () => number;
  /**
   * Addresses tracked at once. Memory stays bounded whatever the number of attackers: when full,
   * windows that have ended go first, then the oldest windows.
   */
  maxAddresses?: number;
  /** Called once per window when an address reaches the limit (for the operator's log). */
  onBlocked?: (addressKey: string, failures: number) => void;
}

const DEFAULT_MAX_ADDRESSES = 100_000;

export function createAddressLimiter(options: AddressLimiterOptions): AddressLimiter {
  const { maxFailures, windowMs } = options;
  const now = options.now ?? Date.now;
  const maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  // Insertion order is the order windows started in (an address whose window ended is deleted
  // and inserted again), so the first entries are always the oldest windows.
  const windows = new Map<string, { startedAt: number; failures: number }>();

  if (maxFailures <= 0) return { blockedFor: () => 0, recordFailure: () => {} };

  return {
    blockedFor(address) {
      const window = windows.get(addressKey(address));
      if (!window || window.failures < maxFailures) return 0;
      const remaining = window.startedAt + windowMs - now();
      // Stryker disable next-line EqualityOperator: at exactly 0 both branches answer 0
      return remaining > 0 ? Math.ceil(remaining / 1000) : 0;
    },

    recordFailure(address) {
      const key = addressKey(address);
      const at = now();
      let window = windows.get(key);
      if (!window || at - window.startedAt >= windowMs) {
        windows.delete(key);
        makeRoom(at);
        window = { startedAt: at, failures: 0 };
        windows.set(key, window);
      }
      window.failures += 1;
      if (window.failures === maxFailures) options.onBlocked?.(key, window.failures);
    },
  };

  function makeRoom(at: number): void {
    // Windows sit in the order they started, so the ones that have ended are at the front: they
    // go, and while the map is still full, the oldest live windows go too. That happens only when
    // more addresses are failing at once than we track, when per-address counting cannot hold
    // anyone anyway; memory stays bounded.
    for (const [key, window] of windows) {
      if (at - window.startedAt < windowMs && windows.size < maxAddresses) return;
      windows.delete(key);
    }
  }
}

/**
 * What failures are counted under: the IPv4 address, or the /64 of an IPv6 address (written as
 * its first four groups). Anything else (no address: the socket is already gone) counts under
 * one shared key rather than escaping the count.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  // Stryker disable next-line ConditionalExpression: an IPv4 address is not IPv6, so the next check returns it unchanged too
  if (isIPv4(address)) return address;
  const withoutZone = address.split("%")[0]!;
  if (!isIPv6(withoutZone)) return address;
  return `${prefixGroups(withoutZone).join(":")}::/64`;
}

/** The first four 16-bit groups (the /64) of a valid IPv6 address, lowercase, without leading zeros. */
function prefixGroups(address: string): string[] {
  const [head, tail] = address.split("::") as [string, string | undefined];
  const headGroups = head === "" ? [] : head.split(":");
  // "::" stands for the zero groups the others leave out of eight. Only the first four are kept,
  // so the last two are only counted: a trailing dotted IPv4 part (`64:ff9b::1.2.3.4`) is two
  // groups, and the empty tail of `1:2::` one group.
  const tailGroups = tail === undefined ? [] : tail.split(":");
  const dotted = address.includes(".") ? 1 : 0;
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length - dotted).fill("0");
  return [...headGroups, ...zeros, ...tailGroups].slice(0, 4).map((g) => parseInt(g, 16).toString(16));
}
