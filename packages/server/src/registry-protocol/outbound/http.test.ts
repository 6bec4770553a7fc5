import type { ServerResponse } from "node:http";
import net, { type AddressInfo, type LookupFunction, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseInsecureRegistries, type InsecureRegistries } from "../insecure-registries.js";
import { OutboundError } from "./errors.js";
import { outboundRequest, parseTargetUrl, pinnedLookup, type OutboundRequest } from "./http.js";
import { followRedirects } from "./redirects.js";
import {
  countSocketConnects,
  fakeLookup,
  makeCertificate,
  startHttpServer,
  startHttpsServer,
  startTcpServer,
  type TestCertificate,
  type TestServer,
} from "@modbox/testkit/outbound";
import type { CheckedAddress } from "./resolve.js";
import { classifyTransportError } from "./transport-errors.js";

let tls: TestCertificate;
let server: TestServer;
let plain: TestServer;
let blackhole: TestServer;
let refused: TestServer;
let untrusted: TestCertificate;

const lookup = fakeLookup({
  "registry.test": ["127.0.0.1"],
  "other.test": ["127.0.0.1"],
  "wronghost.test": ["127.0.0.1"],
  "metadata.test": ["169.254.169.254"],
  "plain.test": ["127.0.0.1"],
  "plain-metadata.test": ["169.254.169.254"],
});

/** The operator's MODBOX_INSECURE_REGISTRIES for these tests: the plain server, by name and port. */
function insecure(spec: string): InsecureRegistries {
  const parsed = parseInsecureRegistries(spec);
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return parsed.registries;
}

function stream(res: ServerResponse, bytes: number, withLength: boolean): void {
  res.writeHead(200, withLength ? { "content-length": String(bytes) } : {});
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < bytes) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    res.end();
  };
  res.on("error", () => undefined);
  pump();
}

beforeAll(async () => {
  tls = makeCertificate();
  untrusted = makeCertificate(["registry.test"]);
  server = await startHttpsServer(tls, (req, res) => {
    const url = new URL(req.url ?? "/", "https://x");
    const port = server.port;
    switch (url.pathname) {
      case "/ok":
        return void res.end("hello");
      case "/echo-form": {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        return void req.on("end", () =>
          res.end(JSON.stringify({ method: req.method, type: req.headers["content-type"], length: req.headers["content-length"], body: Buffer.concat(chunks).toString("utf8") })),
        );
      }
      case "/big":
        return stream(res, 10 * 1024 * 1024, false);
      case "/big-declared":
        return stream(res, 10 * 1024 * 1024, true);
      case "/declared-large-then-silent":
        // Announces a body it never sends: only the announcement can end the wait in time.
        res.writeHead(200, { "content-length": String(50 * 1024 * 1024) });
        return void res.flushHeaders();
      case "/chunked-hello":
        res.write("hel");
        return void res.end("lo");
      case "/head-large":
        res.writeHead(200, { "content-length": String(50 * 1024 * 1024), "docker-content-digest": "sha256:x" });
        return void res.end();
      case "/hang":
        return; // never answers
      case "/to-same":
        res.writeHead(302, { location: "/ok" });
        return void res.end();
      case "/to-other":
        res.writeHead(307, { location: `https://other.test:${port}/ok` });
        return void res.end();
      case "/to-other-then-back":
        res.writeHead(302, { location: `https://other.test:${port}/to-registry` });
        return void res.end();
      case "/to-registry":
        res.writeHead(302, { location: `https://registry.test:${port}/ok` });
        return void res.end();
      case "/to-http":
        res.writeHead(301, { location: `http://registry.test:${port}/ok` });
        return void res.end();
      case "/to-metadata":
        res.writeHead(302, { location: `https://metadata.test:${port}/latest/meta-data/` });
        return void res.end();
      case "/to-unspecified":
        res.writeHead(308, { location: `https://0.0.0.0:${port}/ok` });
        return void res.end();
      case "/loop":
        res.writeHead(302, { location: "/loop" });
        return void res.end();
      case "/no-location":
        res.writeHead(302);
        return void res.end("no location");
      case "/to-userinfo":
        res.writeHead(302, { location: `https://robot:s3cret@registry.test:${port}/ok` });
        return void res.end();
      case "/to-plain":
        res.writeHead(302, { location: `http://plain.test:${plain.port}/ok` });
        return void res.end();
      default:
        res.writeHead(404);
        return void res.end();
    }
  });
  plain = await startHttpServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/ok") return void res.end("plain hello");
    if (path === "/to-same") {
      res.writeHead(302, { location: "/ok" });
      return void res.end();
    }
    if (path === "/to-https") {
      res.writeHead(302, { location: `https://registry.test:${server.port}/ok` });
      return void res.end();
    }
    res.writeHead(404);
    res.end();
  });
  blackhole = await startTcpServer({ hang: true });
  refused = await startTcpServer({ hang: false });
});

afterAll(async () => {
  await Promise.all([server.close(), plain.close(), blackhole.close(), refused.close()]);
});

function base(path: string, overrides: Partial<OutboundRequest> = {}): OutboundRequest {
  return {
    url: `https://registry.test:${server.port}${path}`,
    method: "GET",
    caCertPem: tls.cert,
    timeoutMs: 3000,
    maxResponseBytes: 1024 * 1024,
    allowPrivate: true,
    lookup,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

function thrown(fn: () => unknown): OutboundError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

/**
 * Records every client socket `connect` in this process (the socket and the port asked for);
 * with `refuse`, fails each as refused before it starts, so nothing leaves the process.
 */
function captureConnects(options: { refuse: boolean }): { sockets: Socket[]; ports: unknown[]; restore: () => void } {
  const original = net.Socket.prototype.connect;
  const sockets: Socket[] = [];
  const ports: unknown[] = [];
  // A spy, not an assignment: vitest restores it when the file ends even if a test never gets to
  // `restore` (one that times out), so no later test meets refused connections.
  const spy = vi.spyOn(net.Socket.prototype, "connect").mockImplementation(function (this: Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    sockets.push(this);
    ports.push((first as { port?: unknown }).port);
    if (options.refuse) {
      process.nextTick(() => this.destroy(Object.assign(new Error("connect refused by the test"), { code: "ECONNREFUSED" })));
      return this;
    }
    return (original as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof original);
  return { sockets, ports, restore: () => spy.mockRestore() };
}

describe("outboundRequest", () => {
  it("connects to the checked address; SNI and Host stay the host name; DNS asked once", async () => {
    const calls = lookup.calls.length;
    const res = await outboundRequest(base("/ok"));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("hello");
    expect(lookup.calls.slice(calls)).toEqual(["registry.test"]);
    expect(server.requests.at(-1)).toMatchObject({ host: `registry.test:${server.port}`, servername: "registry.test" });
  });

  it("uses the pinned answer even if DNS would answer differently later (rebinding)", async () => {
    let call = 0;
    const rebinding = async () => [{ address: call++ === 0 ? "127.0.0.1" : "169.254.169.254", family: 4 }];
    const res = await outboundRequest(base("/ok", { lookup: rebinding }));
    expect(res.status).toBe(200);
    expect(call).toBe(1);
  });

  it("offers every checked address to the connection (an IPv6 answer first, the server on IPv4)", async () => {
    const dual = fakeLookup({ "registry.test": ["::1", "127.0.0.1"] });
    const res = await outboundRequest(base("/ok", { lookup: dual }));
    expect(res.status).toBe(200);
    expect(dual.calls).toEqual(["registry.test"]);
  });

  it("sends SNI for the URL's host even when the caller sets another Host header", async () => {
    const res = await outboundRequest(base("/ok", { headers: { host: "other.test" } }));
    expect(res.status).toBe(200);
    expect(server.requests.at(-1)).toMatchObject({ host: "other.test", servername: "registry.test" });
  });

  it("goes to port 443 for https and 80 for http when the URL names no port", async () => {
    const connects = captureConnects({ refuse: true });
    try {
      expect((await failure(outboundRequest(base("/ok", { url: "https://registry.test/ok" })))).code).toBe("unreachable");
      const http = base("/ok", { url: "http://plain.test/ok", insecureRegistries: insecure("plain.test") });
      expect((await failure(outboundRequest(http))).code).toBe("unreachable");
    } finally {
      connects.restore();
    }
    expect(connects.ports).toEqual([443, 80]);
  });

  it("refuses http: before any connection", async () => {
    const counter = countSocketConnects();
    try {
      const err = await failure(outboundRequest(base("/ok", { url: `http://registry.test:${server.port}/ok` })));
      expect(err.code).toBe("insecure_scheme");
      expect(counter.count()).toBe(0);
    } finally {
      counter.restore();
    }
  });

  it("refuses URLs with userinfo without repeating them", async () => {
    const err = await failure(outboundRequest(base("/ok", { url: `https://robot:s3cret@registry.test:${server.port}/ok` })));
    expect(err.code).toBe("invalid_target");
    expect(err.detail).not.toContain("s3cret");
    expect((await failure(outboundRequest(base("/ok", { url: "not a url" })))).code).toBe("invalid_target");
  });

  it("trusts a custom CA for that request only; without it the handshake fails", async () => {
    expect((await outboundRequest(base("/ok"))).status).toBe(200);
    const noCa = await failure(outboundRequest(base("/ok", { caCertPem: undefined })));
    expect(noCa).toMatchObject({ code: "tls_error", detail: expect.stringContaining("self-signed") });
    const otherCa = await failure(outboundRequest(base("/ok", { caCertPem: untrusted.cert })));
    expect(otherCa.code).toBe("tls_error");
  });

  it("fails TLS when the certificate does not name the host", async () => {
    const err = await failure(outboundRequest(base("/ok", { url: `https://wronghost.test:${server.port}/ok` })));
    expect(err).toMatchObject({ code: "tls_error", detail: "the server's certificate does not name this host" });
  });

  it("times out DNS that never answers, keeping what was cut short as the cause", async () => {
    const never = () => new Promise<never>(() => undefined);
    const err = await failure(outboundRequest(base("/ok", { lookup: never, timeoutMs: 20 })));
    expect([err.code, err.detail]).toEqual(["timeout", "no complete answer within 20 ms"]);
    expect(err.cause).toMatchObject({ code: "timeout", detail: "resolving the host name took too long" });
  });

  it("leaves no timer behind once it has failed", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const err = await failure(outboundRequest(base("/", { url: "https://nowhere.test/" })));
      expect(err.code).toBe("unreachable");
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("times out a handshake that never completes", async () => {
    const started = Date.now();
    const err = await failure(outboundRequest(base("/", { url: `https://127.0.0.1:${blackhole.port}/`, timeoutMs: 300 })));
    expect(err.code).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("times out a server that accepts the request and never answers", async () => {
    const started = Date.now();
    const err = await failure(outboundRequest(base("/hang", { timeoutMs: 300 })));
    expect(err.code).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("reports refused and reset connections and unknown names as unreachable", async () => {
    expect((await failure(outboundRequest(base("/", { url: `https://127.0.0.1:${refused.port}/` })))).code).toBe("unreachable");
    expect((await failure(outboundRequest(base("/", { url: "https://nowhere.test/" })))).code).toBe("unreachable");
  });

  it("stops reading a streamed body past maxResponseBytes", async () => {
    const started = Date.now();
    const err = await failure(outboundRequest(base("/big", { maxResponseBytes: 1024 * 1024 })));
    expect(err).toMatchObject({ code: "response_too_large", detail: "the response body exceeds 1048576 bytes" });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("refuses a declared Content-Length past maxResponseBytes without reading", async () => {
    const err = await failure(outboundRequest(base("/big-declared", { maxResponseBytes: 1000 })));
    expect(err.code).toBe("response_too_large");
  });

  it("refuses a declared Content-Length past maxResponseBytes at once, without waiting for the body", async () => {
    const err = await failure(outboundRequest(base("/declared-large-then-silent", { maxResponseBytes: 1000 })));
    expect([err.code, err.detail]).toEqual(["response_too_large", "the response body exceeds 1000 bytes"]);
  });

  it("accepts a body of exactly maxResponseBytes, declared or streamed", async () => {
    const declared = await outboundRequest(base("/ok", { maxResponseBytes: 5 }));
    expect([declared.body.toString(), declared.headers["content-length"]]).toEqual(["hello", ["5"]]);
    const streamed = await outboundRequest(base("/chunked-hello", { maxResponseBytes: 5 }));
    expect([streamed.body.toString(), streamed.headers["transfer-encoding"]]).toEqual(["hello", ["chunked"]]);
  });

  it("closes the connection once the answer is read, even while the server has not taken the whole POST body", async () => {
    const accepted: Socket[] = [];
    const stalled = net.createServer((socket) => {
      accepted.push(socket);
      socket.on("error", () => undefined);
      socket.once("data", () => {
        socket.pause(); // reads no more of the body
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      });
    });
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const port = (stalled.address() as AddressInfo).port;
    const connects = captureConnects({ refuse: false });
    try {
      const res = await outboundRequest(
        base("/", {
          url: `http://127.0.0.1:${port}/upload`,
          method: "POST",
          body: { contentType: "application/octet-stream", data: Buffer.alloc(32 * 1024 * 1024) },
          insecureRegistries: insecure("127.0.0.0/8"),
        }),
      );
      expect([res.status, res.body.toString()]).toEqual([200, "ok"]);
      expect(connects.sockets.map((socket) => socket.destroyed)).toEqual([true]);
    } finally {
      connects.restore();
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });

  it("accepts a HEAD answer announcing a large body", async () => {
    const res = await outboundRequest(base("/head-large", { method: "HEAD", maxResponseBytes: 1000 }));
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers["docker-content-digest"]).toEqual(["sha256:x"]);
  });

  it("does not follow redirects by itself", async () => {
    const res = await outboundRequest(base("/to-same"));
    expect(res.status).toBe(302);
    expect(res.headers.location).toEqual(["/ok"]);
  });
});

describe("parseTargetUrl", () => {
  it("refuses what is not an absolute URL, keeping the parser's error as the cause", () => {
    const err = thrown(() => parseTargetUrl("not a url"));
    expect([err.code, err.detail]).toEqual(["invalid_target", "the URL is not a valid absolute URL"]);
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it.each([
    ["ftp://registry.test/x", "only https URLs are allowed, not ftp"],
    ["git+ssh://registry.test/x", "only https URLs are allowed, not git+ssh"],
    [`${"s".repeat(16)}://registry.test/x`, `only https URLs are allowed, not ${"s".repeat(16)}`],
    [`${"s".repeat(17)}://registry.test/x`, "only https URLs are allowed, not that scheme"],
  ])("refuses %s, naming the scheme only when it is short", (url, detail) => {
    const err = thrown(() => parseTargetUrl(url));
    expect([err.code, err.detail]).toEqual(["insecure_scheme", detail]);
  });

  it.each(["https://robot@registry.test/", "https://:s3cret@registry.test/", "https://robot:s3cret@registry.test/"])(
    "refuses userinfo in %s",
    (url) => {
      const err = thrown(() => parseTargetUrl(url));
      expect([err.code, err.detail]).toEqual(["invalid_target", "URLs with userinfo are not allowed"]);
    },
  );

  it("returns the URL without its fragment", () => {
    expect(parseTargetUrl("https://registry.test:5000/v2/?a=1#frag").href).toBe("https://registry.test:5000/v2/?a=1");
  });
});

describe("pinnedLookup", () => {
  const checked: CheckedAddress[] = [
    { address: "2606:4700::1111", family: 6, addressClass: "public" },
    { address: "140.82.112.34", family: 4, addressClass: "public" },
    { address: "2606:4700::2222", family: 6, addressClass: "public" },
    { address: "140.82.112.35", family: 4, addressClass: "public" },
  ];
  const v4 = [
    { address: "140.82.112.34", family: 4 },
    { address: "140.82.112.35", family: 4 },
  ];
  const v6 = [
    { address: "2606:4700::1111", family: 6 },
    { address: "2606:4700::2222", family: 6 },
  ];

  /** What the lookup answers (it answers at once): the callback's arguments. */
  function ask(addresses: readonly CheckedAddress[], options: Parameters<LookupFunction>[1]): unknown[] {
    const answers: unknown[][] = [];
    pinnedLookup(addresses)("registry.test", options, (...args: unknown[]) => answers.push(args));
    expect(answers).toHaveLength(1);
    return answers[0]!;
  }

  it.each([
    [4, v4],
    ["IPv4", v4],
    [6, v6],
    ["IPv6", v6],
    [0, [v6[0], v4[0], v6[1], v4[1]]],
    [undefined, [v6[0], v4[0], v6[1], v4[1]]],
  ] as const)("answers family %j with the checked addresses of that family, in resolver order", (family, expected) => {
    expect(ask(checked, { family, all: true })).toEqual([null, expected]);
    expect(ask(checked, { family })).toEqual([null, expected[0]!.address, expected[0]!.family]);
  });

  it("fails a query for a family no checked address has, as a name not found", () => {
    const v4Only = checked.filter((a) => a.family === 4);
    for (const options of [{ family: 6 }, { family: "IPv6" as const, all: true }]) {
      const [err, address, family] = ask(v4Only, options);
      expect(err).toMatchObject({ code: "ENOTFOUND", message: "no checked address of the requested family" });
      expect([address, family]).toEqual(["", 0]);
    }
  });
});

describe("followRedirects", () => {
  const auth = { authorization: "Bearer secret-token" };

  it("sends a POST's form body with its type and length", async () => {
    const data = Buffer.from("grant_type=access_token&service=registry.test");
    const res = await followRedirects(base("/echo-form", { method: "POST", body: { contentType: "application/x-www-form-urlencoded", data } }));
    expect(JSON.parse(res.body.toString("utf8"))).toEqual({
      method: "POST",
      type: "application/x-www-form-urlencoded",
      length: String(data.length),
      body: data.toString("utf8"),
    });
  });

  it("never follows a POST's redirect, even to the same host: its body goes to the checked host only", async () => {
    const body = { contentType: "application/x-www-form-urlencoded", data: Buffer.from("access_token=secret") };
    for (const path of ["/to-same", "/to-other", "/to-metadata"]) {
      const res = await followRedirects(base(path, { method: "POST", body }));
      expect(res.status).toBeGreaterThanOrEqual(300);
    }
    expect(server.requests.filter((r) => r.url === "/ok" && r.method === "POST")).toEqual([]);
  });

  it("follows a same-host redirect and keeps Authorization", async () => {
    const res = await followRedirects(base("/to-same", { headers: auth }));
    expect(res.status).toBe(200);
    expect(res.url).toBe(`https://registry.test:${server.port}/ok`);
    expect(server.requests.at(-1)).toMatchObject({ url: "/ok", authorization: "Bearer secret-token" });
  });

  it("drops Authorization when the redirect changes host, and does not restore it on the way back", async () => {
    await followRedirects(base("/to-other", { headers: auth }));
    expect(server.requests.at(-1)).toMatchObject({ host: `other.test:${server.port}`, authorization: undefined });

    await followRedirects(base("/to-other-then-back", { headers: auth }));
    expect(server.requests.at(-1)).toMatchObject({ host: `registry.test:${server.port}`, url: "/ok", authorization: undefined });
  });

  it("refuses a redirect to http, to metadata, to 0.0.0.0, or with userinfo, before connecting there", async () => {
    // allowPrivate is on (the first hop is on 127.0.0.1): these targets are refused regardless.
    const cases: ReadonlyArray<readonly [string, OutboundError["code"]]> = [
      ["/to-http", "insecure_scheme"],
      ["/to-metadata", "address_not_allowed"],
      ["/to-unspecified", "address_not_allowed"],
      ["/to-userinfo", "invalid_target"],
    ];
    for (const [path, code] of cases) {
      const before = server.connections();
      const counter = countSocketConnects();
      try {
        const err = await failure(followRedirects(base(path, { headers: auth })));
        expect(err.code, path).toBe(code);
      } finally {
        counter.restore();
      }
      // Exactly one connection: the first hop; nothing towards the refused target.
      expect(counter.count(), path).toBe(1);
      expect(server.connections() - before, path).toBe(1);
    }
  });

  it("gives up after 3 redirects", async () => {
    const err = await failure(followRedirects(base("/loop")));
    expect(err).toMatchObject({ code: "too_many_redirects" });
    expect(server.requests.filter((r) => r.url === "/loop").length).toBeGreaterThanOrEqual(4);
  });

  it("returns a redirect without Location as is", async () => {
    expect((await followRedirects(base("/no-location"))).status).toBe(302);
  });
});

describe("plain http to a host the operator listed (MODBOX_INSECURE_REGISTRIES)", () => {
  const auth = { authorization: "Basic cm9ib3Q6czNjcmV0" };
  const plainUrl = (path: string, host = "plain.test") => `http://${host}:${plain.port}${path}`;

  it("speaks http to a listed host[:port], through the same resolution and pinning", async () => {
    const calls = lookup.calls.length;
    const res = await outboundRequest(base("/ok", { url: plainUrl("/ok"), insecureRegistries: insecure(`plain.test:${plain.port}`) }));
    expect([res.status, res.body.toString(), res.url]).toEqual([200, "plain hello", plainUrl("/ok")]);
    expect(lookup.calls.slice(calls)).toEqual(["plain.test"]);
    expect(plain.requests.at(-1)).toMatchObject({ host: `plain.test:${plain.port}`, url: "/ok" });
  });

  it("refuses http to a host that is not listed (another port, another name, nothing listed) before any connection, naming the switch", async () => {
    for (const insecureRegistries of [undefined, insecure("plain.test"), insecure(`other.test:${plain.port}`), insecure("127.0.0.0/8")]) {
      const counter = countSocketConnects();
      try {
        const err = await failure(outboundRequest(base("/ok", { url: plainUrl("/ok"), ...(insecureRegistries && { insecureRegistries }) })));
        expect(err).toMatchObject({ code: "insecure_scheme", detail: expect.stringContaining("MODBOX_INSECURE_REGISTRIES") });
        expect(counter.count()).toBe(0);
      } finally {
        counter.restore();
      }
    }
  });

  it("a CIDR entry covers a server written as an address in the range, at any port", async () => {
    const res = await outboundRequest(base("/ok", { url: plainUrl("/ok", "127.0.0.1"), insecureRegistries: insecure("127.0.0.0/8") }));
    expect(res.status).toBe(200);
  });

  it("still applies the address policy: a listed host is not an allowed address", async () => {
    const listed = insecure(`plain.test:${plain.port},plain-metadata.test:${plain.port}`);
    const loopback = await failure(outboundRequest(base("/ok", { url: plainUrl("/ok"), insecureRegistries: listed, allowPrivate: false })));
    expect(loopback).toMatchObject({ code: "address_not_allowed", detail: expect.stringContaining("MODBOX_OUTBOUND_ALLOW_PRIVATE=true") });
    const metadata = await failure(outboundRequest(base("/ok", { url: plainUrl("/ok", "plain-metadata.test"), insecureRegistries: listed })));
    expect(metadata.code).toBe("address_not_allowed");
  });

  it("follows a redirect within the plain host, keeping Authorization", async () => {
    const res = await followRedirects(base("/to-same", { url: plainUrl("/to-same"), headers: auth, insecureRegistries: insecure(`plain.test:${plain.port}`) }));
    expect(res.status).toBe(200);
    expect(plain.requests.at(-1)).toMatchObject({ url: "/ok", authorization: auth.authorization });
  });

  it("drops Authorization on a redirect from https down to a listed http host, and refuses an unlisted one", async () => {
    const res = await followRedirects(base("/to-plain", { headers: auth, insecureRegistries: insecure(`plain.test:${plain.port}`) }));
    expect(res.status).toBe(200);
    expect(plain.requests.at(-1)).toMatchObject({ url: "/ok", authorization: undefined });
    expect((await failure(followRedirects(base("/to-plain", { headers: auth })))).code).toBe("insecure_scheme");
  });
});

describe("classifyTransportError", () => {
  it.each([
    ["CERT_HAS_EXPIRED", "tls_error", "the server's certificate has expired"],
    ["CERT_NOT_YET_VALID", "tls_error", "the server's certificate is not valid yet"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls_error", "the server's certificate is self-signed and not trusted (configure its CA)"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls_error", "the server's certificate is signed by an unknown CA (configure its CA)"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls_error", "the server's certificate does not name this host"],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "tls_error", "the TLS handshake failed (ERR_SSL_WRONG_VERSION_NUMBER)"],
    ["EPROTO", "tls_error", "the TLS handshake failed (EPROTO)"],
    ["ECONNREFUSED", "unreachable", "the connection was refused"],
    ["ECONNRESET", "unreachable", "the connection was reset"],
    ["ENOTFOUND", "unreachable", "the host name was not found"],
    ["EHOSTUNREACH", "unreachable", "the host is unreachable"],
    ["HPE_HEADER_OVERFLOW", "response_too_large", "the response headers are too large"],
    ["HPE_INVALID_CONSTANT", "unreachable", "the server did not answer valid HTTP (HPE_INVALID_CONSTANT)"],
  ])("%s → %s", (code, expected, detail) => {
    const err = classifyTransportError(Object.assign(new Error("boom with secret"), { code }));
    expect(err).toMatchObject({ code: expected, detail });
  });

  it("never copies a message or an odd code", () => {
    const err = classifyTransportError(Object.assign(new Error("s3cret in message"), { code: "weird code s3cret" }));
    expect(err).toMatchObject({ code: "unreachable", detail: "the connection failed" });
    expect(classifyTransportError("a string").detail).toBe("the connection failed");
  });
});
