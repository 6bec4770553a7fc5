/**
 * SSRF through the whole app: registries whose server, Bearer realm or redirect points
 * at loopback, private, link-local, CGNAT, metadata, unspecified or IPv6-mapped addresses are
 * created through the SDK, then verified (also on save) and pull-checked (linked and public
 * images): every one answers `failed` / `address_not_allowed` (or `insecure_realm`) and NO
 * connection is attempted. Numeric host forms are refused at create time with 422.
 *
 * Proof of "no connection", for every row:
 * - a TCP server on 127.0.0.1 counts connections; every loopback target (IP literal or a name the
 *   DNS double maps to loopback) uses its port: it must see 0;
 * - a guard on `net.Socket.prototype.connect` (the app runs in this process) records every
 *   connect attempt other than the SDK's own to the app, and BLOCKS it by throwing: nothing can
 *   reach a non-loopback address even if the server had a bug, and the row then fails.
 * - the DNS double knows only test names (each mapped to loopback or to a refused address);
 *   unknown names fail like getaddrinfo, so no real DNS query is made either.
 * "Public" registries (a Bearer realm or redirect chosen by the remote side) are answered by the
 * `send` transport double of OutboundOptions without touching the network; every other hop goes
 * through the real `outboundRequest` with its address checks.
 *
 * A control row, on a second app that allows private addresses, proves the instruments do see
 * the app's connection when one is made.
 */
import { randomBytes } from "node:crypto";
import net, { type AddressInfo, type Socket } from "node:net";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboundRequest, type OutboundRequest, type OutboundResponse, type Send } from "../../src/registry-protocol/outbound/http.js";
import type { LookupAddress, LookupFn } from "../../src/registry-protocol/outbound/resolve.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { ExchangeLog, exchangeText, findSecrets, recordingClient } from "@modbox/testkit/exchanges";

const USER = "robot";
const PASSWORD = `ssrf-${randomBytes(12).toString("hex")}`;
const hex = (bytes: number) => randomBytes(bytes).toString("hex");

// ---------------------------------------------------------------------------------------------
// Instruments

/** A TCP server on 127.0.0.1 that counts (and at once closes) connections. */
async function startCounter(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface ConnectTarget {
  host: string | undefined;
  port: number | undefined;
  path: string | undefined;
}

/** `(options)`, `([options, cb])` (net.connect's normalised form), `(port, host)` or `(path)`. */
function connectTarget(args: unknown[]): ConnectTarget {
  let first = args[0];
  if (Array.isArray(first)) first = first[0];
  if (typeof first === "object" && first !== null) {
    const o = first as { host?: unknown; port?: unknown; path?: unknown };
    return {
      host: typeof o.host === "string" ? o.host : undefined,
      port: o.port === undefined ? undefined : Number(o.port),
      path: typeof o.path === "string" ? o.path : undefined,
    };
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    return { host: typeof args[1] === "string" ? args[1] : undefined, port: Number(first), path: undefined };
  }
  return { host: undefined, port: undefined, path: typeof first === "string" ? first : undefined };
}

/**
 * Guards `net.Socket.prototype.connect` in this process: `allow` decides; every other attempt is
 * recorded and refused (it throws before any packet is sent).
 */
function guardConnects(allow: (target: ConnectTarget) => boolean) {
  const original = net.Socket.prototype.connect;
  const blocked: ConnectTarget[] = [];
  const allowed: ConnectTarget[] = [];
  net.Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    const target = connectTarget(args);
    if (!allow(target)) {
      blocked.push(target);
      throw Object.assign(new Error("ssrf.test guard: outbound connection blocked"), { code: "ECONNREFUSED" });
    }
    allowed.push(target);
    return (original as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof original;
  return {
    blocked,
    allowed,
    restore: () => {
      net.Socket.prototype.connect = original;
    },
  };
}

/** The DNS double: test names → addresses; anything else fails like getaddrinfo (no real DNS). */
function dnsDouble(table: Readonly<Record<string, readonly string[]>>): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const answer = table[hostname];
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
}

// ---------------------------------------------------------------------------------------------
// The table

let P = 0; // the counter's port, set in beforeAll

const DNS: Record<string, readonly string[]> = {
  localhost: ["127.0.0.1", "::1"],
  "loopback.test": ["127.0.0.1"],
  "metadata.test": ["169.254.169.254"],
  // One public and one private address: refused as a whole (the guard keeps the public one unreached).
  "split.test": ["93.184.215.14", "127.0.0.1"],
  "internal.test": ["10.0.0.5"],
  "mapped.test": ["::ffff:127.0.0.1"],
};

type Hop = { status: number; headers: Record<string, string> };
const bearer = (realm: string, service: string): Hop => ({
  status: 401,
  headers: { "www-authenticate": `Bearer realm="${realm}",service="${service}"` },
});
const redirect = (location: string): Hop => ({ status: 302, headers: { location } });

/** Public-looking hosts answered by the transport double (a cloud registry cannot run here). */
const PUBLIC_HOSTS: Record<string, () => Hop> = {
  "realm-loopback.example": () => bearer(`https://127.0.0.1:${P}/token`, "realm-loopback.example"),
  "realm-loopback-name.example": () => bearer(`https://loopback.test:${P}/token`, "realm-loopback-name.example"),
  "realm-metadata.example": () => bearer("https://169.254.169.254/", "realm-metadata.example"),
  "realm-insecure.example": () => bearer(`http://127.0.0.1:${P}/token`, "realm-insecure.example"),
  "realm-insecure-public.example": () => bearer("http://auth.example/token", "realm-insecure-public.example"),
  "realm-redirect.example": () => bearer("https://auth.example/token", "realm-redirect.example"),
  // The token service on another (public) host, redirecting inward.
  "auth.example": () => ({ status: 307, headers: { location: `https://127.0.0.1:${P}/token` } }),
  "redirect.example": () => redirect(`https://127.0.0.1:${P}/v2/`),
  "redirect-name.example": () => redirect(`https://loopback.test:${P}/v2/`),
  "redirect-metadata.example": () => redirect("https://169.254.169.254/latest/meta-data/"),
};

interface SentRequest {
  url: string;
  authorization: boolean;
  /** Answered by the double (a public host) rather than the real transport. */
  double: boolean;
}

const sent: SentRequest[] = [];

const transportDouble: Send = async (request: OutboundRequest): Promise<OutboundResponse> => {
  const url = new URL(request.url);
  const authorization = Object.keys(request.headers ?? {}).some((h) => h.toLowerCase() === "authorization");
  const hop = PUBLIC_HOSTS[url.host];
  sent.push({ url: url.toString(), authorization, double: hop !== undefined });
  if (hop === undefined) return outboundRequest(request); // the real transport, with every check
  const { status, headers } = hop();
  return {
    url: url.toString(),
    status,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    body: Buffer.from(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] })),
  };
};

interface Row {
  name: string;
  /** The server as a user types it. */
  server: () => string;
  code: "address_not_allowed" | "insecure_realm";
  /** Requests through a redirect must have lost their Authorization header. */
  redirected?: boolean;
}

const direct = (name: string, server: () => string): Row => ({ name, server, code: "address_not_allowed" });

const ROWS: Row[] = [
  direct("IPv4 loopback", () => `127.0.0.1:${P}`),
  direct("IPv4 loopback, another 127/8 address", () => `127.0.0.2:${P}`),
  direct("localhost", () => `localhost:${P}`),
  direct("IPv6 loopback", () => `[::1]:${P}`),
  direct("RFC 1918 10/8", () => "10.0.0.1"),
  direct("RFC 1918 172.16/12", () => "172.16.0.1"),
  direct("RFC 1918 192.168/16", () => "192.168.1.1"),
  direct("cloud metadata 169.254.169.254", () => "169.254.169.254"),
  direct("CGNAT 100.64/10", () => "100.64.0.1"),
  direct("unspecified 0.0.0.0", () => `0.0.0.0:${P}`),
  direct("IPv6 unspecified", () => `[::]:${P}`),
  direct("IPv4-mapped loopback", () => `[::ffff:127.0.0.1]:${P}`),
  direct("IPv6 unique local fd00::/8", () => "[fd00::1]"),
  direct("IPv6 link-local", () => "[fe80::1]"),
  direct("https:// prefix to loopback", () => `https://127.0.0.1:${P}/`),
  direct("name → 127.0.0.1", () => `loopback.test:${P}`),
  direct("name → 169.254.169.254", () => "metadata.test"),
  direct("name → public + loopback", () => `split.test:${P}`),
  direct("name → 10.0.0.5", () => "internal.test"),
  direct("name → ::ffff:127.0.0.1", () => `mapped.test:${P}`),
  direct("Bearer realm on 127.0.0.1", () => "realm-loopback.example"),
  direct("Bearer realm on a name → loopback", () => "realm-loopback-name.example"),
  direct("Bearer realm on 169.254.169.254", () => "realm-metadata.example"),
  { name: "Bearer realm over http to loopback", server: () => "realm-insecure.example", code: "insecure_realm" },
  { name: "Bearer realm over http to a public host", server: () => "realm-insecure-public.example", code: "insecure_realm" },
  { name: "Bearer realm redirecting inward", server: () => "realm-redirect.example", code: "address_not_allowed", redirected: true },
  { name: "registry redirecting to 127.0.0.1", server: () => "redirect.example", code: "address_not_allowed", redirected: true },
  { name: "registry redirecting to a name → loopback", server: () => "redirect-name.example", code: "address_not_allowed", redirected: true },
  { name: "registry redirecting to 169.254.169.254", server: () => "redirect-metadata.example", code: "address_not_allowed", redirected: true },
];

/** Refused as written, before anything is stored: the numeric forms resolvers read as 127.0.0.1. */
const NUMERIC_SERVERS = [
  "2130706433",
  "2130706433:{P}",
  "0x7f.0.0.1",
  "0x7f.0.0.1:{P}",
  "0x7f000001",
  "017700000001",
  "017700000001:{P}",
  "0177.0.0.1",
  "127.1",
  "127.1:{P}",
  "https://2130706433/",
  "https://0x7f.1:{P}/v2/",
];

// ---------------------------------------------------------------------------------------------

describe("SSRF: hostile registry targets are refused before any connection", () => {
  const WS = `e2e-ssrf-${hex(4)}`;
  const log = new ExchangeLog();
  const lookup = dnsDouble(DNS);
  let counter: Awaited<ReturnType<typeof startCounter>>;
  let app: TestApp;
  let controlApp: TestApp;
  let client: ModboxClient;
  let guard: ReturnType<typeof guardConnects>;
  let controlPhase = false;
  let controlConnections = 0;

  beforeAll(async () => {
    counter = await startCounter();
    P = counter.port;
    [app, controlApp] = await Promise.all([
      startTestApp("pglite", { outbound: { allowPrivate: false, timeoutMs: 2000, lookup, send: transportDouble } }),
      startTestApp("pglite", { outbound: { allowPrivate: true, timeoutMs: 2000, lookup } }),
    ]);
    client = recordingClient(app.url, app.token, WS, log);
    const appPorts = new Set([app.url, controlApp.url].map((u) => Number(new URL(u).port)));
    guard = guardConnects(
      (t) =>
        // the SDK's own connections to the apps under test
        (t.host === "127.0.0.1" && t.port !== undefined && appPorts.has(t.port)) ||
        // the control row: the permissive app reaching the counter
        (controlPhase && (t.host === "127.0.0.1" || t.host === "loopback.test") && t.port === P),
    );
  });

  afterAll(async () => {
    guard?.restore();
    await app?.close();
    await controlApp?.close();
    await counter?.close();
  });

  it("has at least 20 hostile targets", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(20);
  });

  it("control: with private addresses allowed, the same instruments see the app's connection", async () => {
    const control = controlApp.client(WS);
    const registry = await control.registries.create({ name: "control", server: `loopback.test:${P}`, username: USER, password: PASSWORD });
    const before = counter.connections();
    controlPhase = true;
    try {
      const verification = await control.registries.verify(registry.id);
      // The counter accepts and closes: no registry there.
      expect(verification).toMatchObject({ status: "failed", error_code: "registry_unreachable" });
    } finally {
      controlPhase = false;
    }
    await expect.poll(() => counter.connections()).toBeGreaterThan(before);
    controlConnections = counter.connections();
    expect(guard.allowed).toContainEqual(expect.objectContaining({ port: P }));
    expect(guard.blocked).toEqual([]);
  });

  it.each(ROWS.map((row) => [row.name, row] as const))("%s: verify, verify on save and pull checks are refused", async (_name, row) => {
    const connectionsBefore = counter.connections();
    const blockedBefore = guard.blocked.length;
    sent.length = 0;
    const name = `ssrf-${hex(4)}`;

    const registry = await client.registries.create(
      { name, server: row.server(), username: USER, password: PASSWORD },
      { verify: true },
    );
    // Only refused credentials refuse a save; an unreachable target is recorded as failed.
    expect(registry.verification).toMatchObject({ status: "failed", error_code: row.code, checked_at: expect.any(String) });

    const verification = await client.registries.verify(registry.id);
    expect(verification).toMatchObject({ status: "failed", error_code: row.code });
    expect(verification.detail).toEqual(expect.any(String));
    // Stored as answered, on save and on demand alike.
    expect(registry.verification.detail).toBe(verification.detail);
    expect((await client.registries.get(registry.id)).verification).toEqual(verification);
    if (row.code === "address_not_allowed") {
      // The operator learns the switch (or that none allows it), never where a name resolved to.
      expect(verification.detail).toMatch(/(unless the operator sets|not even with) MODBOX_OUTBOUND_ALLOW_PRIVATE=true$/);
      const name = row.server().replace(/:\d+$/, "");
      for (const address of DNS[name] ?? []) expect(verification.detail).not.toContain(address);
    }

    const linked = await client.sandboxImages.create({ name, image: `${registry.server}/org/app`, tag: "v1", registry_id: registry.id });
    expect(await client.sandboxImages.pullCheck(linked.id)).toMatchObject({ pullable: false, digest: null, error_code: row.code });

    const publicImage = await client.sandboxImages.create({ name: `${name}-public`, image: `${registry.server}/org/app`, tag: "v1" });
    expect(await client.sandboxImages.pullCheck(publicImage.id)).toMatchObject({ pullable: false, digest: null, error_code: row.code });

    expect(counter.connections()).toBe(connectionsBefore);
    expect(guard.blocked.slice(blockedBefore)).toEqual([]);
    if (row.redirected) {
      // A hop to another host never carries the credentials (and was refused anyway).
      const inward = sent.filter((r) => !r.double);
      expect(inward.length).toBeGreaterThan(0);
      expect(inward.filter((r) => r.authorization)).toEqual([]);
    }
  });

  it.each(NUMERIC_SERVERS)("numeric host form %s is refused at create and update with 422, and as an image host", async (form) => {
    const server = () => form.replace("{P}", String(P));
    const name = `numeric-${hex(4)}`;
    const created = await client.registries
      .create({ name, server: server(), username: USER, password: PASSWORD })
      .then(() => undefined, (e: unknown) => e);
    expect(created).toBeInstanceOf(APIError);
    expect((created as APIError).status).toBe(422);
    expect((created as APIError).code).toBe("validation_failed");
    expect((created as APIError).problem?.errors).toContainEqual(expect.objectContaining({ path: "/body/server" }));
    expect((await client.registries.list({ limit: 100 })).data.map((r) => r.name)).not.toContain(name);

    const existing = await client.registries.create({ name, server: "registry.example.com", username: USER, password: PASSWORD });
    const updated = await client.registries.update(existing.id, { server: server() }).then(() => undefined, (e: unknown) => e);
    expect(updated).toBeInstanceOf(APIError);
    expect((updated as APIError).status).toBe(422);
    expect((await client.registries.get(existing.id)).server).toBe("registry.example.com");
    await client.registries.delete(existing.id);

    // As an image host (where the reference grammar makes it one: a `.` or a `:port`).
    const bare = server().replace(/^https:\/\//, "").replace(/\/.*$/, "");
    if (/[.:]/.test(bare)) {
      const image = await client.sandboxImages
        .create({ name, image: `${bare}/org/app`, tag: "v1" })
        .then(() => undefined, (e: unknown) => e);
      expect(image).toBeInstanceOf(APIError);
      expect((image as APIError).status).toBe(422);
    }
  });

  it("no connection at all, no real DNS, and the password in no response or log line", () => {
    expect(controlConnections).toBeGreaterThan(0);
    expect(counter.connections()).toBe(controlConnections); // the control row's, only
    expect(guard.blocked).toEqual([]);
    expect(lookup.calls.length).toBeGreaterThan(0);
    expect(lookup.calls.filter((name) => !(name in DNS))).toEqual([]);
    const hits = findSecrets(
      [
        ...log.exchanges.map((e, i) => ({ where: `response #${i} ${e.method} ${e.status}`, text: exchangeText(e) })),
        ...app.logs.map((line, i) => ({ where: `log line #${i}`, text: line })),
      ],
      [{ user: USER, secret: PASSWORD }],
    );
    expect(log.exchanges.length).toBeGreaterThan(ROWS.length * 5);
    expect(hits).toEqual([]);
  });
});
