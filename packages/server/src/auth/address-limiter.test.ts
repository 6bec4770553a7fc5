import { describe, expect, it, vi } from "vitest";
import { addressKey, createAddressLimiter } from "./address-limiter.js";

describe("createAddressLimiter", () => {
  it("allows N failures per window, then blocks the address until the window ends", () => {
    let now = 1_000;
    const limiter = createAddressLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.blockedFor("198.51.100.7")).toBe(0);
      limiter.recordFailure("198.51.100.7");
    }
    expect(limiter.blockedFor("198.51.100.7")).toBe(60);
    now += 59_001;
    expect(limiter.blockedFor("198.51.100.7")).toBe(1);
    now += 999;
    expect(limiter.blockedFor("198.51.100.7")).toBe(0);
    // A new window starts with the next failure.
    limiter.recordFailure("198.51.100.7");
    expect(limiter.blockedFor("198.51.100.7")).toBe(0);
  });

  it("counts addresses separately", () => {
    const limiter = createAddressLimiter({ maxFailures: 1, windowMs: 60_000, now: () => 0 });
    limiter.recordFailure("198.51.100.7");
    expect(limiter.blockedFor("198.51.100.7")).toBe(60);
    expect(limiter.blockedFor("198.51.100.8")).toBe(0);
  });

  it("counts an IPv6 /64 as one client, and IPv4-mapped addresses as IPv4", () => {
    const limiter = createAddressLimiter({ maxFailures: 2, windowMs: 60_000, now: () => 0 });
    limiter.recordFailure("2001:db8:1:2::1");
    limiter.recordFailure("2001:db8:1:2:ffff:ffff:ffff:ffff");
    expect(limiter.blockedFor("2001:db8:1:2:abcd::9")).toBe(60);
    expect(limiter.blockedFor("2001:db8:1:3::1")).toBe(0);

    limiter.recordFailure("::ffff:192.0.2.1");
    limiter.recordFailure("192.0.2.1");
    expect(limiter.blockedFor("192.0.2.1")).toBe(60);
    expect(limiter.blockedFor("::FFFF:192.0.2.1")).toBe(60);
  });

  it("tells once per window that an address reached the limit", () => {
    let now = 0;
    const onBlocked = vi.fn();
    const limiter = createAddressLimiter({ maxFailures: 2, windowMs: 1_000, now: () => now, onBlocked });
    for (let i = 0; i < 10; i++) limiter.recordFailure("192.0.2.1");
    expect(onBlocked).toHaveBeenCalledTimes(1);
    expect(onBlocked).toHaveBeenCalledWith("192.0.2.1", 2);
    now = 1_000;
    for (let i = 0; i < 10; i++) limiter.recordFailure("192.0.2.1");
    expect(onBlocked).toHaveBeenCalledTimes(2);
  });

  it("tracks a bounded number of addresses: windows that ended go first, then the oldest", () => {
    let now = 0;
    const limiter = createAddressLimiter({ maxFailures: 1, windowMs: 10_000, now: () => now, maxAddresses: 3 });
    const blocked = (...hosts: number[]) => hosts.map((h) => limiter.blockedFor(`192.0.2.${h}`) > 0);
    limiter.recordFailure("192.0.2.1");
    now = 5_000;
    limiter.recordFailure("192.0.2.2");
    limiter.recordFailure("192.0.2.3");
    // Full, and …1's window has ended: it makes room for …4.
    now = 10_500;
    limiter.recordFailure("192.0.2.4");
    expect(blocked(2, 3, 4)).toEqual([true, true, true]);
    // Full of live windows: the oldest (…2) makes room for …5.
    now = 11_000;
    limiter.recordFailure("192.0.2.5");
    expect(blocked(2, 3, 4, 5)).toEqual([false, true, true, true]);
  });

  it("answers 0, never a negative wait, once a blocked window ended long ago", () => {
    let now = 0;
    const limiter = createAddressLimiter({ maxFailures: 1, windowMs: 10_000, now: () => now });
    limiter.recordFailure("192.0.2.1");
    expect(limiter.blockedFor("192.0.2.1")).toBe(10);
    now = 25_000;
    expect(limiter.blockedFor("192.0.2.1")).toBe(0);
  });

  it("drops a window that has ended as soon as another address opens one, so a clock stepped back cannot revive it", () => {
    let now = 0;
    const limiter = createAddressLimiter({ maxFailures: 1, windowMs: 10_000, now: () => now, maxAddresses: 10 });
    limiter.recordFailure("192.0.2.1");
    // …1's window ends exactly now: …2's new window clears it out although there is room.
    now = 10_000;
    limiter.recordFailure("192.0.2.2");
    now = 9_000;
    expect(limiter.blockedFor("192.0.2.1")).toBe(0);
    expect(limiter.blockedFor("192.0.2.2")).toBe(11);
  });

  it("does nothing when the limit is 0", () => {
    const limiter = createAddressLimiter({ maxFailures: 0, windowMs: 60_000, now: () => 0 });
    for (let i = 0; i < 1_000; i++) limiter.recordFailure("192.0.2.1");
    expect(limiter.blockedFor("192.0.2.1")).toBe(0);
  });
});

describe("addressKey", () => {
  it.each([
    ["192.0.2.1", "192.0.2.1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::FFFF:192.0.2.1", "192.0.2.1"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["2001:0DB8:0001:0002:0003::", "2001:db8:1:2::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
    // Mapped only as the whole address: with a prefix it is an IPv6 address like any other.
    ["1::ffff:192.0.2.1", "1:0:0:0::/64"],
    ["::ffff:192.168.10.100", "192.168.10.100"],
    // A trailing IPv4 part is two groups, which moves the groups before it.
    ["1:2::5:6:7:192.168.10.100", "1:2:0:5::/64"],
    ["2001:db8::1:2:3:4:5", "2001:db8:0:1::/64"],
    ["1:2:3::", "1:2:3:0::/64"],
    // Not an address: counted under itself.
    ["not-an-address", "not-an-address"],
    ["::ffff:192.0.2.1/96", "::ffff:192.0.2.1/96"],
    [undefined, "unknown"],
    ["", "unknown"],
  ])("%s → %s", (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
