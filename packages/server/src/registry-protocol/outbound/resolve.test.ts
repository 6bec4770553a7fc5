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
});
