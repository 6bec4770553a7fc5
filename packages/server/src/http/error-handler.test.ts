import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { DecryptionError } from "@modbox/crypto";
import { DrizzleQueryError } from "drizzle-orm/errors";
import express from "express";
import { pinoHttp } from "pino-http";
import { afterEach, describe, expect, it } from "vitest";
import { DatabaseFailedError } from "../db/pglite-failure.js";
import { DomainError } from "../errors.js";
import { createLogger, requestIdFor, requestLogSerializers } from "../logging.js";
import { errorHandler } from "./error-handler.js";

const SECRET = "canary-secret-0f9e8d7c6b5a";

/** A driver error as drizzle wraps it: the message and params hold bound values. */
function drizzleQueryError(sqlstate: string): Error {
  const cause = Object.assign(new Error(`duplicate key value (${SECRET})`), { code: sqlstate });
  return Object.assign(new Error(`Failed query: insert … params: ${SECRET}`), {
    name: "DrizzleQueryError",
    query: "insert into registries …",
    params: [SECRET],
    cause,
  });
}

/**
 * A query error whose driver error has no SQLSTATE (a value the driver could not encode, a
 * protocol error): drizzle's message still lists the bound parameters.
 */
const queryErrorsWithoutSqlstate: Array<[string, Error]> = [
  ["a cause without a code", new DrizzleQueryError("update registries set username = $1 where id = $2", [SECRET, "id"], new TypeError(`cannot encode ${SECRET}`))],
  ["no cause at all", new DrizzleQueryError("update registries set username = $1 where id = $2", [SECRET, "id"])],
];

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function answerFor(thrown: unknown) {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const app = express();
  app.use(pinoHttp({ logger: createLogger("info", sink), genReqId: requestIdFor, serializers: requestLogSerializers }));
  app.get("/boom", () => {
    throw thrown;
  });
  app.use(errorHandler);
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  close = () => new Promise((resolve) => server.close(() => resolve()));
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/boom`);
  const text = await response.text();
  await new Promise((r) => setTimeout(r, 20));
  return { response, text, body: JSON.parse(text) as Record<string, unknown>, logs: logs.join("") };
}

describe("errorHandler", () => {
  it.each([
    ["a domain error", new DomainError("registry_name_taken", "Taken."), 409, "registry_name_taken"],
    ["an unknown error", new Error(`something broke with ${SECRET}`), 500, "internal_error"],
    ["a DrizzleQueryError (bound params in its message)", drizzleQueryError("XX000"), 500, "internal_error"],
    ["a unique violation nobody handled", drizzleQueryError("23505"), 500, "internal_error"],
    ["a lost database connection", Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), 503, "service_unavailable"],
    ["a decryption failure", new DecryptionError("authentication_failed"), 500, "credential_undecryptable"],
    ["a full disk (53100)", drizzleQueryError("53100"), 503, "service_unavailable"],
    ["an out-of-memory database (53200)", drizzleQueryError("53200"), 503, "service_unavailable"],
    ["a database stopped after a PANIC", new DatabaseFailedError({ severity: "PANIC", sqlstate: "53100", routine: "XLogFileInitInternal" }), 503, "service_unavailable"],
    ["a database stopped after a FATAL", new DatabaseFailedError({ severity: "FATAL", sqlstate: "XX000" }), 503, "service_unavailable"],
    ["a JSON parse error (carries the raw body)", Object.assign(new SyntaxError(`Unexpected token in ${SECRET}`), { type: "entity.parse.failed", body: SECRET, status: 400 }), 400, "malformed_request"],
    ["a too-large body", Object.assign(new Error("request entity too large"), { type: "entity.too.large", status: 413 }), 413, "payload_too_large"],
  ])("answers %s as problem+json", async (_label, thrown, status, code) => {
    const { response, body, text } = await answerFor(thrown);
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(body).toMatchObject({ status, code, type: `https://modbox.dev/problems/${code}`, request_id: response.headers.get("x-request-id") });
    expect(text).not.toContain(SECRET);
    if (status === 503) expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("never logs a driver error's message or bound parameters, but keeps the SQLSTATE", async () => {
    const { logs } = await answerFor(drizzleQueryError("XX000"));
    expect(logs).not.toContain(SECRET);
    expect(logs).toContain("XX000");
  });

  it.each(queryErrorsWithoutSqlstate)("a query error without an SQLSTATE (%s): a 500 that neither answers nor logs its message or parameters", async (_label, thrown) => {
    const { response, body, text, logs } = await answerFor(thrown);
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error" });
    expect(text).not.toContain(SECRET);
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain("Failed query");
    expect(JSON.parse(logs)).toMatchObject({ res: { statusCode: 500 }, err: { message: "query failed", stack: "DatabaseError: query failed" } });
  });

  it("answers a full disk with Retry-After 30 and logs its SQLSTATE, never the driver's message", async () => {
    const { response, body, logs } = await answerFor(drizzleQueryError("53100"));
    expect(response.headers.get("retry-after")).toBe("30");
    expect(body.detail).toMatch(/storage is full/);
    expect(logs).toContain('"sqlstate":"53100"');
    expect(logs).not.toContain(SECRET);
  });

  it("never logs a JSON parse error's body", async () => {
    const { logs } = await answerFor(
      Object.assign(new SyntaxError(`Unexpected token in ${SECRET}`), { type: "entity.parse.failed", body: SECRET }),
    );
    expect(logs).not.toContain(SECRET);
  });

  it("answers the validator's problems in words, the first in `detail` too", async () => {
    const validatorError = Object.assign(new Error("request/body/server must match pattern"), {
      status: 400,
      errors: [
        { path: "/body/server", message: 'must match pattern "^\\S+$"', errorCode: "pattern.openapi.validation" },
        { path: "/body/username", message: "must have required property 'username'", errorCode: "required.openapi.validation" },
      ],
    });
    const { response, body } = await answerFor(validatorError);
    expect(response.status).toBe(422);
    expect(body).toMatchObject({
      code: "validation_failed",
      detail: "server must not contain spaces or other whitespace (and 1 more problem).",
      errors: [
        { path: "/body/server", message: "must not contain spaces or other whitespace" },
        { path: "/body/username", message: "is required" },
      ],
    });
  });

  it("logs a response validation failure in the validator's own words, and answers a bare 500", async () => {
    const responseError = Object.assign(new Error("response invalid"), {
      status: 500,
      errors: [{ path: ".response.name", message: "must be string", errorCode: "type.openapi.validation" }],
    });
    const { response, body, logs } = await answerFor(responseError);
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error" });
    expect(body).not.toHaveProperty("errors");
    expect(logs).toContain("/response/name must be string");
  });

  it("logs an unknown error's message for operators (it is ours, not the caller's input)", async () => {
    const { logs } = await answerFor(new Error("invariant broken"));
    expect(logs).toContain("invariant broken");
  });
});
