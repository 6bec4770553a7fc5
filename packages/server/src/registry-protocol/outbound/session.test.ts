/**
 * The steps verifyLogin and checkPull share, driven through an injected `send` (no sockets): what
 * is asked of the registry and its token service, and how each answer or failure is reported.
 */
import { describe, expect, it } from "vitest";
import { parseInsecureRegistries, type InsecureRegistries } from "../insecure-registries.js";
import { parseWwwAuthenticate, type AuthChallenge } from "./challenge.js";
import { OutboundError, isOutboundError, type OutboundErrorCode } from "./errors.js";
import type { OutboundRequest, Send } from "./http.js";
import {
  StepFailure,
  authorize,
  call,
  challengeOf,
  describeStatus,
  isServerTrouble,
  openSession,
  ping,
  registryErrorCodes,
  registryUrl,
  type Session,
} from "./session.js";

const CREDENTIALS = { username: "robot", password: "pw-example" };
const BASIC = `Basic ${Buffer.from("robot:pw-example").toString("base64")}`;

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A `send` double: answers each request with `answer(request)` (or throws what it returns). */
function sendDouble(answer: (request: OutboundRequest) => Reply | Error): { send: Send; requests: OutboundRequest[] } {
  const requests: OutboundRequest[] = [];
  const send: Send = async (request) => {
    requests.push(request);
    const reply = answer(request);
    if (reply instanceof Error) throw reply;
    return {
      url: String(request.url),
      status: reply.status,
      headers: Object.fromEntries(Object.entries(reply.headers ?? {}).map(([name, value]) => [name, [value]])),
      body: Buffer.from(reply.body ?? ""),
    };
  };
  return { send, requests };
}

function insecure(spec: string): InsecureRegistries {
  const parsed = parseInsecureRegistries(spec);
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return parsed.registries;
}

function session(send: Send, overrides: Partial<Session> = {}): Session {
  return { ...openSession({ host: "registry.test" }, { allowPrivate: false, send }), ...overrides };
}

function bearer(header: string): AuthChallenge {
  const [challenge] = parseWwwAuthenticate(header) ?? [];
  if (challenge === undefined) throw new Error(`not a challenge: ${header}`);
  return challenge;
}

async function failure(promise: Promise<unknown>): Promise<StepFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StepFailure);
  return err as StepFailure;
}

describe("openSession", () => {
  it("fills the defaults: https, no insecure hosts, 5 s, 1 MiB", () => {
    const { send } = sendDouble(() => ({ status: 200 }));
    const opened = openSession({ host: "Registry.Test:5000" }, { allowPrivate: true, send });
    expect(opened).toMatchObject({ host: "registry.test:5000", scheme: "https", allowPrivate: true, timeoutMs: 5000, maxResponseBytes: 1024 * 1024 });
    expect(opened.insecureRegistries.allows("registry.test:5000")).toBe(false);
  });

  it("refuses a host that is not a bare host[:port], saying what it must be", () => {
    expect(() => openSession({ host: "https://registry.test" }, { allowPrivate: false })).toThrow(
      new TypeError("endpoint.host must be a bare host[:port] (no scheme, path or userinfo)"),
    );
  });
});

describe("StepFailure and OutboundError", () => {
  it("carry their names, codes and details", () => {
    const step = new StepFailure("registry_error", "registry.test: broken");
    expect([step.name, step.code, step.detail, step.message]).toEqual(["StepFailure", "registry_error", "registry.test: broken", "registry.test: broken"]);
    expect(isOutboundError(new OutboundError("timeout", "slow"))).toBe(true);
    expect(isOutboundError(new Error("slow"))).toBe(false);
  });
});

describe("call", () => {
  it("applies the operator's plain-HTTP rule to the registry only, not to an https token service", async () => {
    const double = sendDouble(() => ({ status: 200 }));
    const http = session(double.send, { scheme: "http" });
    const refused = await failure(call(http, "registry", { url: registryUrl(http, "/v2/"), method: "GET" }));
    expect(refused).toMatchObject({
      code: "address_not_allowed",
      detail: "registry.test: plain HTTP to this registry is not allowed; the operator must list it in MODBOX_INSECURE_REGISTRIES",
    });
    const realm = await call(http, "realm", { url: new URL("https://auth.test/token"), method: "GET" });
    expect(realm.status).toBe(200);
    expect(double.requests.map((r) => String(r.url))).toEqual(["https://auth.test/token"]);
  });

  it("lets an error that is not the outbound layer's through unchanged", async () => {
    const boom = new Error("a bug in the send double");
    const s = session(sendDouble(() => boom).send);
    await expect(call(s, "registry", { url: registryUrl(s, "/v2/"), method: "GET" })).rejects.toBe(boom);
  });

  const MAPPING: ReadonlyArray<readonly [OutboundErrorCode, string, string]> = [
    ["timeout", "registry_unreachable", "registry_unreachable"],
    ["unreachable", "registry_unreachable", "registry_unreachable"],
    ["tls_error", "tls_error", "tls_error"],
    ["address_not_allowed", "address_not_allowed", "address_not_allowed"],
    ["insecure_scheme", "registry_error", "insecure_realm"],
    ["invalid_target", "registry_error", "registry_error"],
    ["too_many_redirects", "registry_error", "registry_error"],
    ["response_too_large", "registry_error", "registry_error"],
  ];

  it.each(MAPPING)("%s → %s from the registry, %s from the token service, naming who failed", async (code, registry, realm) => {
    const s = session(sendDouble(() => new OutboundError(code, "what went wrong")).send);
    const fromRegistry = await failure(call(s, "registry", { url: registryUrl(s, "/v2/"), method: "GET" }));
    expect({ code: fromRegistry.code, detail: fromRegistry.detail }).toEqual({ code: registry, detail: "registry.test: what went wrong" });
    const fromRealm = await failure(call(s, "realm", { url: new URL("https://auth.test:8443/token"), method: "GET" }));
    expect({ code: fromRealm.code, detail: fromRealm.detail }).toEqual({
      code: realm,
      detail: "the token service at auth.test:8443: what went wrong",
    });
  });
});

describe("ping", () => {
  it("sends GET /v2/ without credentials", async () => {
    const double = sendDouble(() => ({ status: 200 }));
    await expect(ping(session(double.send))).resolves.toBeNull();
    expect(double.requests.map((r) => [r.method, String(r.url), r.headers])).toEqual([["GET", "https://registry.test/v2/", undefined]]);
  });
});

describe("challengeOf", () => {
  const s = session(sendDouble(() => ({ status: 200 })).send);
  const answer = (challenge: string) => ({ url: "https://registry.test/v2/", status: 401, headers: { "www-authenticate": [challenge] }, body: Buffer.alloc(0) });

  it("names an unsupported scheme whole up to 32 characters, cut after that", async () => {
    const exact = "a".repeat(32);
    expect(() => challengeOf(s, answer(exact))).toThrow(`registry.test: authentication scheme "${exact}" is not supported`);
    const long = await failure(Promise.resolve().then(() => challengeOf(s, answer("b".repeat(40)))));
    expect({ code: long.code, detail: long.detail }).toEqual({
      code: "unsupported_auth",
      detail: `registry.test: authentication scheme "${"b".repeat(32)}…" is not supported`,
    });
  });
});

describe("authorize: Bearer", () => {
  const tokenReply = (body: unknown): Reply => ({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("asks the realm with GET, Accept JSON and the credentials, for the service and each scope", async () => {
    const double = sendDouble(() => tokenReply({ token: "tok-1" }));
    const challenge = bearer('Bearer realm="https://auth.test/token",service="reg"');
    await expect(authorize(session(double.send), challenge, CREDENTIALS, ["repository:a:pull", "repository:b:pull"])).resolves.toBe("Bearer tok-1");
    expect(double.requests.map((r) => [r.method, String(r.url), r.headers])).toEqual([
      [
        "GET",
        "https://auth.test/token?service=reg&scope=repository%3Aa%3Apull&scope=repository%3Ab%3Apull",
        { accept: "application/json", authorization: BASIC },
      ],
    ]);
  });

  it("leaves out service when the challenge has none, and credentials when there are none", async () => {
    const double = sendDouble(() => tokenReply({ access_token: "tok-2" }));
    const challenge = bearer('Bearer realm="https://auth.test/token"');
    await expect(authorize(session(double.send), challenge, null, [])).resolves.toBe("Bearer tok-2");
    expect(double.requests.map((r) => [String(r.url), r.headers])).toEqual([["https://auth.test/token", { accept: "application/json" }]]);
  });

  it.each([
    ["no realm", 'Bearer service="reg"', "registry.test: the Bearer challenge has no realm"],
    ["an empty realm", 'Bearer realm="",service="reg"', "registry.test: the Bearer challenge has no realm"],
    ["a realm that is not a URL", 'Bearer realm="/token"', "registry.test: the Bearer realm is not a valid URL"],
  ])("registry_error for %s, nothing sent", async (_name, header, detail) => {
    const double = sendDouble(() => tokenReply({ token: "tok" }));
    const err = await failure(authorize(session(double.send), bearer(header), CREDENTIALS, []));
    expect({ code: err.code, detail: err.detail }).toEqual({ code: "registry_error", detail });
    expect(double.requests).toEqual([]);
  });

  const INSECURE_REALM =
    "registry.test: the token realm is not https; credentials are only sent over https (or over http to a host the operator lists in MODBOX_INSECURE_REGISTRIES)";

  it("insecure_realm for an http realm that is not listed, or a realm of another scheme even on a listed host; nothing sent", async () => {
    for (const [realm, listed] of [
      ["http://auth.test/token", "registry.test"],
      ["ftp://auth.test:8080/token", "auth.test:8080"],
    ] as const) {
      const double = sendDouble(() => tokenReply({ token: "tok" }));
      const s = session(double.send, { insecureRegistries: insecure(listed) });
      const err = await failure(authorize(s, bearer(`Bearer realm="${realm}"`), CREDENTIALS, []));
      expect({ code: err.code, detail: err.detail }, realm).toEqual({ code: "insecure_realm", detail: INSECURE_REALM });
      expect(double.requests, realm).toEqual([]);
    }
  });

  it("asks an http realm whose host the operator listed", async () => {
    const double = sendDouble(() => tokenReply({ token: "tok-3" }));
    const s = session(double.send, { insecureRegistries: insecure("auth.test:8080") });
    await expect(authorize(s, bearer('Bearer realm="http://auth.test:8080/token"'), CREDENTIALS, [])).resolves.toBe("Bearer tok-3");
    expect(double.requests.map((r) => String(r.url))).toEqual(["http://auth.test:8080/token"]);
  });

  it("insecure_realm when the realm redirects to plain http", async () => {
    const double = sendDouble(() => ({ status: 302, headers: { location: "http://auth.test/token" } }));
    const err = await failure(authorize(session(double.send), bearer('Bearer realm="https://auth.test/token"'), CREDENTIALS, []));
    expect(err.code).toBe("insecure_realm");
    expect(err.detail).toMatch(/^the token service at auth\.test: plain http to this host is not allowed/);
  });

  it.each([
    [401, CREDENTIALS, "the token service at auth.test refused the credentials (401 (UNAUTHORIZED))"],
    [403, CREDENTIALS, "the token service at auth.test refused the credentials (403 (DENIED))"],
    [401, null, "the token service at auth.test requires credentials (401 (UNAUTHORIZED))"],
  ] as const)("auth_rejected on %s", async (status, credentials, detail) => {
    const code = status === 401 ? "UNAUTHORIZED" : "DENIED";
    const s = session(sendDouble(() => ({ status, body: JSON.stringify({ errors: [{ code }] }) })).send);
    const err = await failure(authorize(s, bearer('Bearer realm="https://auth.test/token"'), credentials, []));
    expect({ code: err.code, detail: err.detail }).toEqual({ code: "auth_rejected", detail });
  });

  it("registry_error when the token service answers another status", async () => {
    const s = session(sendDouble(() => ({ status: 500, body: JSON.stringify({ token: "tok" }) })).send);
    const err = await failure(authorize(s, bearer('Bearer realm="https://auth.test/token"'), CREDENTIALS, []));
    expect({ code: err.code, detail: err.detail }).toEqual({ code: "registry_error", detail: "the token service at auth.test answered 500" });
  });

  it.each([
    ["JSON null", null, "the token service at auth.test answered without a token"],
    ["a JSON string", "tok", "the token service at auth.test answered without a token"],
    ["no token field", { expires_in: 300 }, "the token service at auth.test answered without a token"],
    ["empty tokens", { token: "", access_token: "" }, "the token service at auth.test answered without a token"],
    ["a token with a space", { token: "tok en" }, "the token service at auth.test answered with a token that cannot be sent in a header"],
    ["a token with a leading space", { token: " token" }, "the token service at auth.test answered with a token that cannot be sent in a header"],
    ["a token with a trailing space", { token: "token " }, "the token service at auth.test answered with a token that cannot be sent in a header"],
    ["a token with a line break", { token: "tok\r\nx-injected: 1" }, "the token service at auth.test answered with a token that cannot be sent in a header"],
  ])("registry_error for %s", async (_name, body, detail) => {
    const s = session(sendDouble(() => tokenReply(body)).send);
    const err = await failure(authorize(s, bearer('Bearer realm="https://auth.test/token"'), CREDENTIALS, []));
    expect({ code: err.code, detail: err.detail }).toEqual({ code: "registry_error", detail });
  });

  it("skips an empty token for a usable access_token", async () => {
    const s = session(sendDouble(() => tokenReply({ token: "", access_token: "tok-4" })).send);
    await expect(authorize(s, bearer('Bearer realm="https://auth.test/token"'), CREDENTIALS, [])).resolves.toBe("Bearer tok-4");
  });
});

describe("authorize: Basic", () => {
  it("encodes the credentials as UTF-8", async () => {
    const s = session(sendDouble(() => ({ status: 200 })).send);
    const challenge = bearer('Basic realm="r"');
    const authorization = await authorize(s, challenge, { username: "rób", password: "pässword" }, []);
    expect(authorization).toBe(`Basic ${Buffer.from("rób:pässword", "utf8").toString("base64")}`);
  });
});

describe("isServerTrouble", () => {
  it.each([
    [500, true],
    [503, true],
    [429, true],
    [499, false],
    [428, false],
    [404, false],
  ])("%s → %s", (status, expected) => {
    expect(isServerTrouble(status)).toBe(expected);
  });
});

describe("describeStatus and registryErrorCodes", () => {
  const body = (value: unknown) => Buffer.from(JSON.stringify(value));

  it("adds the registry's error codes, comma-separated", () => {
    expect(describeStatus({ status: 401, body: body({ errors: [{ code: "UNAUTHORIZED" }, { code: "DENIED" }] }) })).toBe("401 (UNAUTHORIZED, DENIED)");
    expect(describeStatus({ status: 404, body: Buffer.alloc(0) })).toBe("404");
  });

  it("keeps at most three distinct codes, in order", () => {
    const codes = ["A", "B", "A", "C", "D"].map((code) => ({ code }));
    expect(registryErrorCodes(body({ errors: codes }))).toEqual(["A", "B", "C"]);
  });

  it("keeps only upper-case identifier strings", () => {
    const errors = [null, 5, "PLAIN", { code: 7 }, { code: ["DENIED"] }, { code: "denied" }, { code: "xDENIED" }, { code: "DENIED-x" }, { code: "DENIED_2" }];
    expect(registryErrorCodes(body({ errors }))).toEqual(["DENIED_2"]);
  });

  it("reads nothing from a body that is empty, not JSON, not an object, or over 64 KiB", () => {
    expect(registryErrorCodes(Buffer.alloc(0))).toEqual([]);
    expect(registryErrorCodes(Buffer.from("<html>DENIED</html>"))).toEqual([]);
    expect(registryErrorCodes(Buffer.from("null"))).toEqual([]);
    expect(registryErrorCodes(body({ errors: "DENIED" }))).toEqual([]);
    const padded = (size: number) => {
      const text = JSON.stringify({ errors: [{ code: "DENIED" }], pad: "" });
      return Buffer.from(text.replace('"pad":""', `"pad":"${"x".repeat(size - text.length)}"`));
    };
    expect(padded(64 * 1024).length).toBe(64 * 1024);
    expect(registryErrorCodes(padded(64 * 1024))).toEqual(["DENIED"]);
    expect(registryErrorCodes(padded(64 * 1024 + 1))).toEqual([]);
  });
});
