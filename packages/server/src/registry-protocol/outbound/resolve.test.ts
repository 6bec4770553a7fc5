import { describe, expect, it } from "vitest";
import { OutboundError } from "./errors.js";
import { resolveTarget } from "./resolve.js";
import { fakeLookup } from "@modbox/testkit/outbound";

describe("resolveTarget", () => {
  it("resolves once and returns every checked address, the first one to pin", async () => {
    const lookup = fakeLookup({ "registry.example": ["2606:4700::1111", "140.82.112.34"] });
    const target = await resolveTarget("registry.example", { allowPrivate: false, lookup });
    expect(target).toMatchObject({ hostname: "registry.example", literal: false, address: "2606:4700::1111", family: 6 });
    expect(target.addresses.map((a) => [a.address, a.family, a.addressClass])).toEqual([
      ["2606:4700::1111", 6, "public"],
      ["140.82.112.34", 4, "public"],
    ]);
    expect(lookup.calls).toEqual(["registry.example"]);
  });

  it("refuses a split answer (one public, one private) as a whole", async () => {
    for (const answer of [["140.82.112.34", "10.0.0.1"], ["127.0.0.1", "140.82.112.34"], ["2606:4700::1", "::1"]]) {
      const lookup = fakeLookup({ "split.example": answer });
      await expect(resolveTarget("split.example", { allowPrivate: false, lookup })).rejects.toMatchObject({
        code: "address_not_allowed",
      });
    }
  });

  it("names the class but never the resolved addresses", async () => {
    const lookup = fakeLookup({ "internal.example": ["10.11.12.13"] });
    const err = (await resolveTarget("internal.example", { allowPrivate: false, lookup }).catch((e: unknown) => e)) as OutboundError;
    expect(err).toBeInstanceOf(OutboundError);
    expect(err.detail).toBe(
      "the host name resolves to a private address; outbound calls may not reach it unless the operator sets MODBOX_OUTBOUND_ALLOW_PRIVATE=true",
    );
    expect(err.detail).not.toContain("10.11");
  });

  it("names the operator's switch: the one that allows loopback, private and CGNAT, and that none allows the rest", async () => {
    const lookup = fakeLookup({ "metadata.google.internal": ["169.254.169.254"] });
    const refused = (host: string, allowPrivate: boolean) =>
      resolveTarget(host, { allowPrivate, lookup }).then(
        () => undefined,
        (e: unknown) => (e as OutboundError).detail,
      );
    expect(await refused("127.0.0.1", false)).toBe(
      "the address is a loopback address; outbound calls may not reach it unless the operator sets MODBOX_OUTBOUND_ALLOW_PRIVATE=true",
    );
    expect(await refused("100.64.0.1", false)).toMatch(/a cgnat address; .* unless the operator sets MODBOX_OUTBOUND_ALLOW_PRIVATE=true$/);
    expect(await refused("metadata.google.internal", true)).toBe(
      "the host name resolves to a metadata address; outbound calls never reach it, not even with MODBOX_OUTBOUND_ALLOW_PRIVATE=true",
    );
    expect(await refused("[fe80::1]", false)).toMatch(/a link-local address; outbound calls never reach it, not even with MODBOX_OUTBOUND_ALLOW_PRIVATE=true$/);
  });

  it("checks IP literals without DNS, with or without brackets", async () => {
    const lookup = fakeLookup({});
    await expect(resolveTarget("127.0.0.1", { allowPrivate: true, lookup })).resolves.toMatchObject({ literal: true, family: 4 });
    await expect(resolveTarget("[::1]", { allowPrivate: true, lookup })).resolves.toMatchObject({ hostname: "::1", family: 6 });
    await expect(resolveTarget("::1", { allowPrivate: false, lookup })).rejects.toMatchObject({ code: "address_not_allowed" });
    await expect(resolveTarget("[fe80::1]", { allowPrivate: true, lookup })).rejects.toMatchObject({ code: "address_not_allowed" });
    expect(lookup.calls).toEqual([]);
  });

  it("allows private answers only with allowPrivate, never metadata", async () => {
    const lookup = fakeLookup({ "harbor.corp": ["10.0.0.7"], "metadata.google.internal": ["169.254.169.254"] });
    await expect(resolveTarget("harbor.corp", { allowPrivate: true, lookup })).resolves.toMatchObject({ address: "10.0.0.7" });
    await expect(resolveTarget("metadata.google.internal", { allowPrivate: true, lookup })).rejects.toMatchObject({
      code: "address_not_allowed",
      detail: expect.stringContaining("metadata"),
    });
  });

  it("refuses an answer that is not an IP address", async () => {
    const lookup = fakeLookup({ "odd.example": ["not-an-ip"] });
    await expect(resolveTarget("odd.example", { allowPrivate: true, lookup })).rejects.toMatchObject({ code: "address_not_allowed" });
  });

  it("reports an unknown name or an empty answer as unreachable", async () => {
    const lookup = fakeLookup({ "empty.example": [] });
    await expect(resolveTarget("missing.example", { allowPrivate: false, lookup })).rejects.toMatchObject({ code: "unreachable" });
    await expect(resolveTarget("empty.example", { allowPrivate: false, lookup })).rejects.toMatchObject({ code: "unreachable" });
  });

  it("stops waiting for DNS when the signal aborts", async () => {
    const never = () => new Promise<never>(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(resolveTarget("slow.example", { allowPrivate: false, lookup: never, signal: controller.signal })).rejects.toMatchObject({
      code: "timeout",
    });
  });

  it.each(["", "a b", "user:pw@host", "host/path", "host:443", "host?x", "host#x", "ho\\st", `${"a".repeat(254)}`])(
    "refuses %j as a host without repeating it",
    async (host) => {
      const err = (await resolveTarget(host, { allowPrivate: true, lookup: fakeLookup({}) }).catch((e: unknown) => e)) as OutboundError;
      expect(err.code).toBe("invalid_target");
      if (host.includes("pw")) expect(err.detail).not.toContain("pw");
    },
  );

  it("normalises case and IDN names before DNS", async () => {
    const lookup = fakeLookup({ "registry.example": ["140.82.112.34"], "xn--bcher-kva.example": ["140.82.112.35"] });
    await resolveTarget("REGISTRY.Example", { allowPrivate: false, lookup });
    await resolveTarget("bücher.example", { allowPrivate: false, lookup });
    expect(lookup.calls).toEqual(["registry.example", "xn--bcher-kva.example"]);
  });

  async function failure(promise: Promise<unknown>): Promise<OutboundError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutboundError);
    return err as OutboundError;
  }

  it("returns the literal as the one checked address, lower-cased, with or without brackets", async () => {
    for (const host of ["[2606:4700:4700::ABCD]", "2606:4700:4700::ABCD"]) {
      await expect(resolveTarget(host, { allowPrivate: false })).resolves.toEqual({
        hostname: "2606:4700:4700::abcd",
        literal: true,
        addresses: [{ address: "2606:4700:4700::abcd", family: 6, addressClass: "public" }],
        address: "2606:4700:4700::abcd",
        family: 6,
      });
    }
  });

  it("asks DNS for every address, in resolver order", async () => {
    const seen: unknown[] = [];
    const lookup = async (hostname: string, options: unknown) => {
      seen.push([hostname, options]);
      return [{ address: "140.82.112.34", family: 4 }];
    };
    await resolveTarget("registry.example", { allowPrivate: false, lookup });
    expect(seen).toEqual([["registry.example", { all: true, verbatim: true }]]);
  });

  it.each([
    ["an empty answer", async () => [], "unreachable", "the host name has no addresses"],
    ["an answer that is not a list", async () => undefined as never, "unreachable", "the host name has no addresses"],
    ["a name that is not an IP address", async () => [{ address: "not-an-ip", family: 4 }], "address_not_allowed", "the host name resolves to something that is not an IP address"],
  ])("refuses %s, saying so", async (_name, lookup, code, detail) => {
    const err = await failure(resolveTarget("odd.example", { allowPrivate: true, lookup }));
    expect([err.code, err.detail]).toEqual([code, detail]);
  });

  it("keeps the resolver's error as the cause of unreachable", async () => {
    const cause = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    const err = await failure(resolveTarget("missing.example", { allowPrivate: true, lookup: () => Promise.reject(cause) }));
    expect([err.code, err.detail, err.cause]).toEqual(["unreachable", "the host name could not be resolved", cause]);
  });

  it("times out before asking DNS when the signal has already aborted, and when it aborts during the lookup", async () => {
    const controller = new AbortController();
    controller.abort();
    const calls: string[] = [];
    const never = (hostname: string) => {
      calls.push(hostname);
      return new Promise<never>(() => undefined);
    };
    const before = await failure(resolveTarget("slow.example", { allowPrivate: false, lookup: never, signal: controller.signal }));
    expect([before.code, before.detail, calls]).toEqual(["timeout", "resolving the host name took too long", []]);

    const later = new AbortController();
    const abortingLookup = (hostname: string) => {
      calls.push(hostname);
      later.abort();
      return new Promise<never>(() => undefined);
    };
    const during = await failure(resolveTarget("slow.example", { allowPrivate: false, lookup: abortingLookup, signal: later.signal }));
    expect([during.code, during.detail, calls]).toEqual(["timeout", "resolving the host name took too long", ["slow.example"]]);
  });

  it("waits for a lookup that answers later when no signal is given", async () => {
    const later = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return [{ address: "140.82.112.34", family: 4 }];
    };
    await expect(resolveTarget("registry.example", { allowPrivate: false, lookup: later })).resolves.toMatchObject({ address: "140.82.112.34" });
  });

  it("stops listening to the signal once DNS has answered", async () => {
    const events: string[] = [];
    const signal = {
      aborted: false,
      addEventListener: (type: string) => events.push(`add ${type}`),
      removeEventListener: (type: string) => events.push(`remove ${type}`),
    } as unknown as AbortSignal;
    await resolveTarget("registry.example", { allowPrivate: false, lookup: fakeLookup({ "registry.example": ["140.82.112.34"] }), signal });
    expect(events).toEqual(["add abort", "remove abort"]);
  });

  it("accepts a host name of 253 characters and refuses 254, and one URL cannot parse, keeping the cause", async () => {
    const longest = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    expect(longest).toHaveLength(253);
    const lookup = fakeLookup({ [longest]: ["140.82.112.34"] });
    await expect(resolveTarget(longest, { allowPrivate: false, lookup })).resolves.toMatchObject({ hostname: longest });
    const tooLong = await failure(resolveTarget(`${longest}e`, { allowPrivate: false, lookup }));
    expect([tooLong.code, tooLong.detail]).toEqual(["invalid_target", "the host is not a valid host name"]);
    const unparsable = await failure(resolveTarget("a\uFF1A80", { allowPrivate: false, lookup }));
    expect([unparsable.code, unparsable.detail]).toEqual(["invalid_target", "the host is not a valid host name"]);
    expect(unparsable.cause).toBeInstanceOf(TypeError);
  });

  it.each(["", "[::1", "x::1]", "g::1h"])("refuses %j as a host, saying it is not a host name", async (host) => {
    const err = await failure(resolveTarget(host, { allowPrivate: true, lookup: fakeLookup({}) }));
    expect([err.code, err.detail]).toEqual(["invalid_target", "the host is not a valid host name"]);
  });

  it("says an, not a, before a class that starts with a vowel", async () => {
    const err = await failure(resolveTarget("::", { allowPrivate: true }));
    expect(err.detail).toBe("the address is an unspecified address; outbound calls never reach it, not even with MODBOX_OUTBOUND_ALLOW_PRIVATE=true");
  });
});
