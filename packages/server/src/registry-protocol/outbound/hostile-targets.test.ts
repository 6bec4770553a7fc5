/**
 * ≥40 hostile verification targets (security.md: "100% refused before connect").
 *
 * Proof of "before any connection", for every row:
 * - every name the fake DNS knows that points at loopback points at a counting TCP server on
 *   127.0.0.1, and IP-literal rows use its port: it must see 0 connections;
 * - a process-wide counter on `net.Socket.prototype.connect` must see 0 connect attempts, to
 *   any address (this covers the rows that point at 10/8, 169.254.169.254, … where nothing
 *   listens).
 * Rows that need an allowed registry first (a Bearer realm, a redirect) get it from a wire
 * double for a public registry (`registry.example`, `auth.example`: a cloud registry cannot run
 * here); the hostile hop then goes through the real `outboundRequest`.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboundRequest, type OutboundResponse, type Send } from "./http.js";
import { countSocketConnects, fakeLookup, startTcpServer, type TestServer } from "@modbox/testkit/outbound";
import type { OutboundOptions, VerificationErrorCode } from "./types.js";
import { checkPull, verifyLogin } from "./v2-client.js";
import { postRegistryForm } from "./form-post.js";

const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
const CREDENTIALS = { username: "robot", password: PASSWORD };

let counter: TestServer;
let P = 0; // the counting server's port, filled in beforeAll

beforeAll(async () => {
  counter = await startTcpServer({ hang: false });
  P = counter.port;
});

afterAll(async () => {
  await counter.close();
});

const lookup = fakeLookup({
  "internal.test": ["10.1.2.3"],
  "loopback.test": ["127.0.0.1"],
  "split.test": ["140.82.112.34", "127.0.0.1"],
  "split-reversed.test": ["127.0.0.1", "140.82.112.34"],
  "split6.test": ["2606:4700::1111", "::1"],
  "metadata.test": ["169.254.169.254"],
  "metadata-v6.test": ["fd00:ec2::254"],
  "mapped.test": ["::ffff:127.0.0.1"],
  "nat64.test": ["64:ff9b::a00:1"],
  "sixtofour.test": ["2002:7f00:1::"],
  "cgnat.test": ["100.64.1.1"],
  "zero.test": ["0.0.0.0"],
  "multicast.test": ["239.1.1.1"],
  "garbage.test": ["not-an-ip"],
});

type Hop = { status: number; location?: string; challenge?: string };

/** Answers for the public registry `registry.example` and its token service `auth.example`. */
function publicRegistryDouble(answers: { registry: Hop; auth?: Hop }): Send {
  return async (request): Promise<OutboundResponse> => {
    const url = new URL(request.url);
    const hop = url.hostname === "registry.example" ? answers.registry : url.hostname === "auth.example" ? answers.auth : undefined;
    if (hop === undefined) return outboundRequest(request);
    const headers: Record<string, string[]> = {};
    if (hop.location !== undefined) headers.location = [hop.location];
    if (hop.challenge !== undefined) headers["www-authenticate"] = [hop.challenge];
    return { url: url.toString(), status: hop.status, headers, body: Buffer.alloc(0) };
  };
}

const bearerTo = (realm: string): Hop => ({ status: 401, challenge: `Bearer realm="${realm}",service="registry.example"` });
const redirectTo = (location: string): Hop => ({ status: 302, location });

interface Row {
  name: string;
  host: () => string;
  allowPrivate?: boolean;
  /** Use the system resolver (for `localhost`). */
  systemDns?: boolean;
  double?: () => { registry: Hop; auth?: Hop };
  code: VerificationErrorCode;
}

const direct = (name: string, host: () => string, allowPrivate = false): Row => ({
  name,
  host,
  allowPrivate,
  code: "address_not_allowed",
});

/** A row whose hostile hop comes from the public registry double (`registry` is its /v2/ answer). */
/** Thunks: the counting server's port `P` is only known once `beforeAll` ran. */
function via(
  name: string,
  registry: () => Hop,
  code: VerificationErrorCode,
  extra: { allowPrivate?: boolean; auth?: () => Hop } = {},
): Row {
  const { auth } = extra;
  return {
    name,
    host: () => "registry.example",
    allowPrivate: extra.allowPrivate ?? false,
    double: () => ({ registry: registry(), ...(auth ? { auth: auth() } : {}) }),
    code,
  };
}

const ROWS: Row[] = [
  // The registry host itself: IP literals (no DNS)
  direct("IPv4 loopback", () => `127.0.0.1:${P}`),
  direct("IPv4 loopback, other /8 address", () => `127.1.2.3:${P}`),
  direct("IPv6 loopback", () => `[::1]:${P}`),
  direct("0.0.0.0 (reaches localhost on Linux)", () => `0.0.0.0:${P}`),
  direct("IPv6 unspecified", () => `[::]:${P}`),
  direct("RFC 1918 10/8", () => "10.0.0.1"),
  direct("RFC 1918 172.16/12", () => "172.16.5.4"),
  direct("RFC 1918 192.168/16", () => "192.168.1.1"),
  direct("CGNAT", () => "100.64.0.1"),
  direct("instance metadata", () => "169.254.169.254"),
  direct("link-local", () => "169.254.10.10"),
  direct("IPv6 link-local", () => "[fe80::1]"),
  direct("AWS IMDS over IPv6", () => "[fd00:ec2::254]"),
  direct("IPv6 unique local", () => "[fc00::1]"),
  direct("IPv4-mapped loopback", () => `[::ffff:127.0.0.1]:${P}`),
  direct("IPv4-mapped metadata", () => "[::ffff:169.254.169.254]"),
  direct("IPv4-mapped private", () => "[::ffff:10.0.0.1]"),
  direct("NAT64 metadata", () => "[64:ff9b::a9fe:a9fe]"),
  direct("6to4 loopback", () => `[2002:7f00:1::]:${P}`),
  direct("IPv4-compatible loopback", () => `[::127.0.0.1]:${P}`),
  direct("Teredo loopback", () => `[2001:0:4136:e378:8000:63bf:80ff:fffe]:${P}`),
  direct("multicast", () => "224.0.0.1"),
  direct("broadcast", () => "255.255.255.255"),
  direct("decimal loopback", () => `2130706433:${P}`),
  direct("hex loopback", () => `0x7f000001:${P}`),
  direct("octal loopback", () => `0177.0.0.1:${P}`),
  direct("short loopback", () => `127.1:${P}`),
  direct("Alibaba metadata (inside CGNAT)", () => "100.100.100.200"),
  direct("documentation range", () => "192.0.2.1"),
  direct("IPv6 documentation range", () => "[2001:db8::1]"),
  // Names (fake DNS, resolved once, every answer checked)
  { ...direct("localhost (system DNS)", () => `localhost:${P}`), systemDns: true },
  direct("name → private", () => "internal.test"),
  direct("name → loopback", () => `loopback.test:${P}`),
  direct("name → public + loopback", () => `split.test:${P}`),
  direct("name → loopback + public", () => `split-reversed.test:${P}`),
  direct("name → IPv6 public + ::1", () => `split6.test:${P}`),
  direct("name → metadata", () => "metadata.test"),
  direct("name → IPv6 metadata", () => "metadata-v6.test"),
  direct("name → IPv4-mapped loopback", () => `mapped.test:${P}`),
  direct("name → NAT64 private", () => "nat64.test"),
  direct("name → 6to4 loopback", () => `sixtofour.test:${P}`),
  direct("name → CGNAT", () => "cgnat.test"),
  direct("name → 0.0.0.0", () => `zero.test:${P}`),
  direct("name → multicast", () => "multicast.test"),
  direct("name → not an IP", () => "garbage.test"),
  // Never allowed, even when operators allow private ranges
  direct("metadata with allowPrivate", () => "169.254.169.254", true),
  direct("IPv6 metadata with allowPrivate", () => "[fd00:ec2::254]", true),
  direct("name → metadata with allowPrivate", () => "metadata.test", true),
  direct("link-local with allowPrivate", () => "[fe80::1]", true),
  direct("0.0.0.0 with allowPrivate", () => `0.0.0.0:${P}`, true),
  // The Bearer realm, chosen by the (public) registry
  ...[
    () => `https://127.0.0.1:${P}/token`,
    () => `https://[::1]:${P}/token`,
    () => "https://169.254.169.254/latest/api/token",
    () => "https://internal.test/token",
    () => `https://loopback.test:${P}/token`,
    () => `https://split.test:${P}/token`,
    () => `https://2130706433:${P}/token`,
    () => `https://[::ffff:7f00:1]:${P}/token`,
  ].map((realm, i) => via(`realm #${i + 1} inward`, () => bearerTo(realm()), "address_not_allowed")),
  via("realm on metadata, allowPrivate", () => bearerTo("https://metadata.test/token"), "address_not_allowed", {
    allowPrivate: true,
  }),
  via("realm over http", () => bearerTo("http://auth.example/token"), "insecure_realm"),
  via("realm over http to loopback", () => bearerTo(`http://127.0.0.1:${P}/token`), "insecure_realm"),
  via("realm file://", () => bearerTo("file:///etc/passwd"), "insecure_realm"),
  via("realm with userinfo", () => bearerTo("https://evil:leak@auth.example/token"), "registry_error"),
  via("realm redirecting inward", () => bearerTo("https://auth.example/token"), "address_not_allowed", {
    auth: () => ({ status: 307, location: `https://127.0.0.1:${P}/token` }),
  }),
  // Redirects from the registry
  via("redirect to loopback", () => redirectTo(`https://127.0.0.1:${P}/v2/`), "address_not_allowed"),
  via("redirect to metadata", () => redirectTo("https://169.254.169.254/latest/meta-data/"), "address_not_allowed"),
  via("redirect to a private name", () => redirectTo("https://internal.test/v2/"), "address_not_allowed"),
  via("redirect to mapped loopback", () => redirectTo(`https://[::ffff:7f00:1]:${P}/v2/`), "address_not_allowed"),
  via("redirect to http", () => redirectTo(`http://127.0.0.1:${P}/v2/`), "registry_error"),
];

function options(row: Row): OutboundOptions {
  return {
    allowPrivate: row.allowPrivate ?? false,
    timeoutMs: 2000,
    ...(row.systemDns ? {} : { lookup }),
    ...(row.double ? { send: publicRegistryDouble(row.double()) } : {}),
  };
}

describe("hostile verification targets", () => {
  it("has at least 40 rows, all built with the counting server's port", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
    expect(P).toBeGreaterThan(0);
    const built = JSON.stringify(ROWS.map((row) => [row.host(), row.double?.()]));
    expect(built).not.toMatch(/:0[/"]/);
  });

  it("control: the same probes do see a connection to an allowed target", async () => {
    const sockets = countSocketConnects();
    const before = counter.connections();
    let result;
    try {
      result = await verifyLogin({ host: `loopback.test:${P}` }, CREDENTIALS, { allowPrivate: true, timeoutMs: 2000, lookup });
    } finally {
      sockets.restore();
    }
    expect(result).toMatchObject({ status: "failed", code: "registry_unreachable" });
    expect(sockets.count()).toBeGreaterThan(0);
    await expect.poll(() => counter.connections()).toBeGreaterThan(before);
  });

  it.each(ROWS.map((row) => [row.name, row] as const))("verifyLogin refuses %s before any connection", async (_name, row) => {
    const sockets = countSocketConnects();
    const before = counter.connections();
    let result;
    try {
      result = await verifyLogin({ host: row.host() }, CREDENTIALS, options(row));
    } finally {
      sockets.restore();
    }
    expect(result).toMatchObject({ status: "failed", code: row.code });
    expect(sockets.count()).toBe(0);
    expect(counter.connections()).toBe(before);
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
    expect(JSON.stringify(result)).not.toContain("leak");
  });

  it.each(ROWS.map((row) => [row.name, row] as const))("checkPull refuses %s before any connection", async (_name, row) => {
    const sockets = countSocketConnects();
    const before = counter.connections();
    let result;
    try {
      result = await checkPull({ host: row.host() }, "org/app", "v1", CREDENTIALS, options(row));
    } finally {
      sockets.restore();
    }
    expect(result).toMatchObject({ ok: false, code: row.code });
    expect(sockets.count()).toBe(0);
    expect(counter.connections()).toBe(before);
  });

  // The registry host's own address, as ACR's token exchange POSTs to it (rows whose hostile hop
  // is a realm or a redirect do not apply: a POST follows neither).
  it.each(ROWS.filter((row) => row.double === undefined).map((row) => [row.name, row] as const))(
    "postRegistryForm refuses %s before any connection",
    async (_name, row) => {
      const sockets = countSocketConnects();
      const before = counter.connections();
      let error: unknown;
      try {
        await postRegistryForm({ host: row.host() }, "/oauth2/exchange", new URLSearchParams({ access_token: PASSWORD }), options(row));
      } catch (err) {
        error = err;
      } finally {
        sockets.restore();
      }
      expect(error).toMatchObject({ name: "OutboundError", code: expect.stringMatching(/^(address_not_allowed|invalid_target|unreachable)$/) });
      expect(sockets.count()).toBe(0);
      expect(counter.connections()).toBe(before);
      expect(JSON.stringify(error)).not.toContain(PASSWORD);
    },
  );
});
