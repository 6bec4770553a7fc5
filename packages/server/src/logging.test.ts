import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express from "express";
import { pinoHttp } from "pino-http";
import { afterEach, describe, expect, it } from "vitest";
import {
  createLogger,
  isSecretKey,
  LOG_LEVELS,
  prettyDestination,
  REDACTED,
  redactLogLine,
  requestIdFor,
  requestLogSerializers,
  resolveLogFormat,
} from "./logging.js";

const SECRET = "canary-9b1c2d3e4f5a6b7c8d9e";

function capture(level = "trace") {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe("secret key names", () => {
  it.each([
    "password",
    "Password",
    "PASSWORD",
    "new_password",
    "passwordCiphertext",
    "password_ciphertext",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "clientSecret",
    "client_secret",
    "token",
    "access_token",
    "bootstrapToken",
    "identitytoken",
    "authorization",
    "Authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x_registry_auth",
    "X-Registry-Auth",
    "auth",
    ".dockerconfigjson",
    "apiKey",
    "api_key",
    "private_key",
    "privateKey",
    "credentials",
    "MODBOX_ENCRYPTION_KEYS",
    "keysSpec",
    "DATABASE_URL",
    "connectionString",
  ])("%s is a secret", (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(["tokenId", "token_id", "TOKEN_ID", "tokenIds", "passwordKeyId", "password_key_id", "credentialIds", "keyId", "keyIds", "activeKeyId", "author", "authors", "url", "database", "name", "username", "email", "server", "id", "path", "msg", "err", "reqId", "statusCode"])(
    "%s is not",
    (key) => {
      expect(isSecretKey(key)).toBe(false);
    },
  );
});

describe("redaction reaches every depth of every logged object", () => {
  it("replaces a secret-named value at the top, nested, inside arrays, and whole objects under a secret name", () => {
    const { logger, parsed } = capture();
    logger.warn(
      {
        password: SECRET,
        req: { body: { name: "prod", password: SECRET, nested: { deeper: [{ token: SECRET }, { x_registry_auth: SECRET }] } } },
        headers: { Authorization: `Bearer ${SECRET}`, cookie: SECRET },
        docker_config: { auths: { "ghcr.io": { auth: SECRET, email: "a@b.c" } } },
        credentials: { username: "robot", password: SECRET },
        keyIds: ["k1", "k2"],
      },
      "something happened",
    );
    expect(parsed()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: "something happened",
        password: REDACTED,
        req: { body: { name: "prod", password: REDACTED, nested: { deeper: [{ token: REDACTED }, { x_registry_auth: REDACTED }] } } },
        headers: { Authorization: REDACTED, cookie: REDACTED },
        docker_config: { auths: { "ghcr.io": { auth: REDACTED, email: "a@b.c" } } },
        credentials: REDACTED,
        keyIds: ["k1", "k2"],
      }),
    ]);
  });

  it("covers child bindings, errors' own properties and a key with escaped characters", () => {
    const { logger, lines } = capture();
    const child = logger.child({ session: { token: SECRET } });
    child.info({ err: Object.assign(new Error("failed"), { response: { headers: { authorization: SECRET } } }) }, "child");
    // One key per line: each line must be caught on its own key.
    logger.info({ 'quoted "password"': SECRET }, "escaped quote");
    logger.info({ "back\\slash\\token": SECRET }, "escaped backslash");
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).not.toContain(SECRET);
    expect(JSON.parse(lines[0]!)).toMatchObject({ session: { token: REDACTED }, err: { response: { headers: { authorization: REDACTED } } } });
    expect(JSON.parse(lines[1]!)).toMatchObject({ 'quoted "password"': REDACTED });
    expect(JSON.parse(lines[2]!)).toMatchObject({ "back\\slash\\token": REDACTED });
  });

  it("covers pino-http's request logger and its children", async () => {
    const { logger, lines } = capture("info");
    const app = express();
    app.use(pinoHttp({ logger, genReqId: requestIdFor, serializers: requestLogSerializers }));
    app.get("/x", (req, res) => {
      req.log.info({ body: { user: { password: SECRET } } }, "handler");
      res.json({});
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    close = () => new Promise((resolve) => server.close(() => resolve()));
    await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`)).text();
    await new Promise((r) => setTimeout(r, 20));
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(["handler", "request completed"]);
    expect(lines.join("\n")).not.toContain(SECRET);
    expect(lines.join("\n")).toContain(`"password":"${REDACTED}"`);
  });

  it.each(LOG_LEVELS.filter((level) => level !== "silent"))("at %s too", (level) => {
    const { logger, lines } = capture(level);
    logger.fatal({ a: { b: { c: { d: { e: { password: SECRET } } } } } }, "deep");
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
    expect(JSON.parse(lines[0]!)).toMatchObject({ a: { b: { c: { d: { e: { password: REDACTED } } } } } });
  });

  it("keeps a secret's identifier readable beside the redacted secret", () => {
    const { logger, parsed } = capture();
    logger.info({ tokenId: "tok-1", token: SECRET, passwordKeyId: "k1" }, "revoked");
    expect(parsed()).toEqual([expect.objectContaining({ tokenId: "tok-1", token: REDACTED, passwordKeyId: "k1" })]);
  });

  it("leaves a line without a secret key byte for byte as pino wrote it, secret-looking values included", () => {
    const line = `{"level":30,"time":1,"req":{"id":"r","method":"POST","path":"/sandbox-images/x/pull-credentials"},"msg":"the password was wrong"}\n`;
    expect(redactLogLine(line)).toBe(line);
  });

  it("withholds a line it cannot parse rather than write it unchecked", () => {
    const out = redactLogLine(`{"password":"${SECRET}"\n`);
    expect(out).not.toContain(SECRET);
    expect(JSON.parse(out)).toMatchObject({ level: 50, msg: expect.stringMatching(/withheld/) });
  });
});

describe("human-readable logs (pino-pretty)", () => {
  async function prettyCapture(level = "trace") {
    let text = "";
    const logger = createLogger(level, await prettyDestination({ write: (chunk: string) => (text += chunk) }));
    return { logger, text: () => text };
  }

  it("are redacted exactly as JSON lines are, at any depth and in child bindings", async () => {
    const { logger, text } = await prettyCapture();
    logger.child({ session: { token: SECRET } }).warn(
      {
        password: SECRET,
        req: { body: { nested: [{ x_registry_auth: SECRET }] } },
        headers: { Authorization: `Bearer ${SECRET}` },
        docker_config: { auths: { "ghcr.io": { auth: SECRET } } },
        database_url: `postgres://u:${SECRET}@h/d`,
        keyIds: ["k1"],
      },
      "something happened",
    );
    const out = text();
    expect(out).toContain("something happened");
    expect(out).not.toContain(SECRET);
    expect(out).toContain(`password: "${REDACTED}"`);
    expect(out).toContain(`"x_registry_auth": "${REDACTED}"`);
    expect(out).toContain(`"token": "${REDACTED}"`);
    expect(out).toContain('"k1"');
    // Not JSON: the human-readable form, one header line per entry, without colours here.
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: something happened\n/);
    expect(out).not.toContain("\u001b[");
  });

  it("are chosen on a terminal outside production, or when asked", () => {
    expect(resolveLogFormat(undefined, { isTTY: true, production: false })).toBe("pretty");
    expect(resolveLogFormat(undefined, { isTTY: true, production: true })).toBe("json");
    expect(resolveLogFormat(undefined, { isTTY: false, production: false })).toBe("json");
    expect(resolveLogFormat("pretty", { isTTY: false, production: true })).toBe("pretty");
    expect(resolveLogFormat("json", { isTTY: true, production: false })).toBe("json");
  });
});
