import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { DecryptionError } from "@modbox/crypto";
import { DrizzleQueryError } from "drizzle-orm/errors";
import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
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

/** `prepare` runs before the route throws: what the contract validator would have set on the request. */
async function answerFor(thrown: unknown, prepare: RequestHandler = (_req, _res, next) => next()) {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const app = express();
  app.use(pinoHttp({ logger: createLogger("info", sink), genReqId: requestIdFor, serializers: requestLogSerializers }));
  app.get("/boom", prepare, () => {
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

/** An express-openapi-validator error: `status` and `errors[]`. */
const validatorError = (status: number, errors: Array<{ path?: string; message?: string; errorCode?: string }> = [], headers?: Record<string, unknown>) =>
  Object.assign(new Error(`validator ${status}`), { status, errors, ...(headers && { headers }) });

/** The one line pino-http logged for the request. */
const logged = (logs: string) => JSON.parse(logs) as { level: number; err?: { message?: string; stack?: string; sqlstate?: string } };

const INTERNAL_DETAIL = "An unexpected error occurred; the server log has the details under this request id.";

describe("errorHandler: body parser errors, recognised by their type", () => {
  it.each([
    ["entity.parse.failed", 400, "malformed_request", "The request body is not valid JSON."],
    ["entity.too.large", 413, "payload_too_large", "The request body is larger than this server accepts."],
    ["encoding.unsupported", 415, "unsupported_media_type", "The request body must be UTF-8 encoded JSON."],
    ["charset.unsupported", 415, "unsupported_media_type", "The request body must be UTF-8 encoded JSON."],
    ["request.aborted", 400, "malformed_request", "The request body could not be read."],
    ["request.size.invalid", 400, "malformed_request", "The request body could not be read."],
    ["stream.encoding.set", 400, "malformed_request", "The request body could not be read."],
  ])("%s → %i %s", async (type, status, code, detail) => {
    const { response, body, logs } = await answerFor(Object.assign(new Error(`raw body ${SECRET}`), { type }));
    expect(response.status).toBe(status);
    expect(body).toMatchObject({ status, code, detail });
    expect(logs).not.toContain(SECRET);
  });

  it.each(["Z_DATA_ERROR", "Z_BUF_ERROR", "ERR__ERROR_FORMAT_PADDING_1"])("a body that does not decode (zlib %s) is a 400 saying so", async (zlibCode) => {
    const { response, body } = await answerFor(Object.assign(new Error("incorrect header check"), { code: zlibCode }));
    expect(response.status).toBe(400);
    expect(body).toMatchObject({ code: "malformed_request", detail: "The request body does not decode as its Content-Encoding says." });
  });

  it.each([
    ["an unknown type", { type: "entity.verify.failed" }],
    ["a code that merely contains a zlib prefix", { code: "XZ_DATA_ERROR" }],
    ["a code that is no string", { code: 5 }],
  ])("%s is no body error: a 500 whose message is logged", async (_label, fields) => {
    const { response, body, logs } = await answerFor(Object.assign(new Error("odd failure"), fields));
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error", detail: INTERNAL_DETAIL });
    expect(logged(logs).err?.message).toBe("odd failure");
  });
});

describe("errorHandler: the contract validator's errors", () => {
  it.each([
    [404, 404, "not_found", "No such route."],
    [405, 405, "method_not_allowed", "This method is not allowed on this route."],
    [413, 413, "payload_too_large", "The request body is larger than this server accepts."],
    [415, 415, "unsupported_media_type", "The request body must be application/json."],
  ])("%i → %i %s", async (validatorStatus, status, code, detail) => {
    const { response, body } = await answerFor(validatorError(validatorStatus));
    expect(response.status).toBe(status);
    expect(body).toMatchObject({ status, code, detail, title: expect.any(String) });
    expect(body).not.toHaveProperty("errors");
    expect(response.headers.get("allow")).toBeNull();
  });

  it.each([
    ["GET, POST", "GET, POST, HEAD"],
    ["POST", "POST"],
  ])("a 405 says the route's methods (Allow: %s → %s)", async (allow, answered) => {
    const { response } = await answerFor(validatorError(405, [], { Allow: allow }));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe(answered);
  });

  it("sets no Allow from a header that is no string, nor on an answer other than 405", async () => {
    expect((await answerFor(validatorError(405, [], { Allow: ["GET"] }))).response.headers.get("allow")).toBeNull();
    expect((await answerFor(validatorError(404, [], { Allow: "GET" }))).response.headers.get("allow")).toBeNull();
  });

  it.each([
    ["another status", validatorError(401)],
    ["no errors list", Object.assign(new Error("validator-like"), { status: 404 })],
    ["a status that is no number", Object.assign(new Error("validator-like"), { status: "404", errors: [] })],
  ])("an error with %s is not the validator's: a 500", async (_label, thrown) => {
    const { response, body } = await answerFor(thrown);
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error" });
  });

  it("a response that breaks the contract: every failed rule logged, at JSON-pointer paths", async () => {
    const { response, body, logs } = await answerFor(
      validatorError(500, [{ path: ".response.name", message: "must be string" }, { path: "/response/id" }, {}]),
    );
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error", detail: INTERNAL_DETAIL });
    expect(logged(logs).err).toMatchObject({
      message: "/response/name must be string; /response/id is invalid; / is invalid",
      stack: "ResponseValidationError: /response/name must be string; /response/id is invalid; / is invalid",
    });
  });

  it("a 400 without entries says the request does not match the contract", async () => {
    const { response, body } = await answerFor(validatorError(400));
    expect(response.status).toBe(422);
    expect(body).toMatchObject({ code: "validation_failed", detail: "The request does not match the API contract." });
    expect(body).not.toHaveProperty("errors");
  });
});

describe("errorHandler: the contract's words for the matched operation", () => {
  const onRoute = (method: string, route: string, body: unknown): RequestHandler => (req, _res, next) => {
    Object.assign(req, { method, body, openapi: { openApiRoute: route } });
    next();
  };
  const unknownProperty = (name: string) => ({ path: `/body/${name}`, message: "must NOT have additional properties", errorCode: "additionalProperties.openapi.validation" });

  it("suggests the name meant from the operation's body", async () => {
    const { body } = await answerFor(validatorError(400, [unknownProperty("usrname")]), onRoute("POST", "/registries", { usrname: "u" }));
    expect(body).toMatchObject({
      detail: 'usrname is not a known property; did you mean "username"?',
      errors: [{ path: "/body/usrname", message: 'is not a known property; did you mean "username"?' }],
    });
  });

  it("suggests from the names of the form the body's tag picks only", async () => {
    // An AWS body: `username` is a basic field, unknown to the AWS form.
    const entries = [unknownProperty("aws_rol_arn"), unknownProperty("aws_rol_arn"), { path: "/body", message: "must match exactly one schema in oneOf", errorCode: "oneOf.openapi.validation" }];
    const { body } = await answerFor(validatorError(400, entries), onRoute("POST", "/registries", { auth_type: "aws_ecr", aws_rol_arn: "x" }));
    expect(body).toMatchObject({
      detail: 'aws_rol_arn is not a known property; did you mean "aws_role_arn"?',
      errors: [{ path: "/body/aws_rol_arn", message: 'is not a known property; did you mean "aws_role_arn"?' }],
    });
  });

  it("never suggests a field of another form than the one the tag picks", async () => {
    const { body } = await answerFor(validatorError(400, [unknownProperty("usrname")]), onRoute("POST", "/registries", { auth_type: "aws_ecr", usrname: "x" }));
    expect(body).toMatchObject({ errors: [{ path: "/body/usrname", message: "is not a known property" }] });
  });

  it("suggests a query parameter of the operation", async () => {
    const entry = { path: "/query/limt", message: "Unknown query parameter 'limt'" };
    const { body } = await answerFor(validatorError(400, [entry]), onRoute("GET", "/registries", undefined));
    expect(body).toMatchObject({ detail: 'query parameter limt is not a known parameter; did you mean "limit"?' });
  });

  it("suggests nothing where the validator matched no route", async () => {
    const { body } = await answerFor(validatorError(400, [unknownProperty("usrname")]), onRoute("POST", undefined as unknown as string, { usrname: "u" }));
    expect(body).toMatchObject({ detail: "usrname is not a known property." });
  });

  it("looks up no route that is no string, even one that prints as a known route", async () => {
    const entries = [unknownProperty("usrname"), { path: "/body", message: "must match exactly one schema in oneOf", errorCode: "oneOf.openapi.validation" }];
    const { body } = await answerFor(validatorError(400, entries), onRoute("POST", ["/registries"] as unknown as string, { usrname: "u" }));
    expect(body).toMatchObject({
      detail: "usrname is not a known property (and 1 more problem).",
      errors: [
        { path: "/body/usrname", message: "is not a known property" },
        { path: "/body", message: "does not match any of the forms the contract allows" },
      ],
    });
  });

  it("suggests a query parameter from the operation's parameters, never from the picked body form's names", async () => {
    const entry = { path: "/query/usrname", message: "Unknown query parameter 'usrname'" };
    const { body } = await answerFor(validatorError(400, [entry]), onRoute("POST", "/registries", { username: "u" }));
    expect(body).toMatchObject({ errors: [{ path: "/query/usrname", message: "is not a known parameter" }] });
    const { body: verify } = await answerFor(validatorError(400, [{ path: "/query/verfy", message: "Unknown query parameter 'verfy'" }]), onRoute("POST", "/registries", { username: "u" }));
    expect(verify).toMatchObject({ errors: [{ path: "/query/verfy", message: 'is not a known parameter; did you mean "verify"?' }] });
  });
});

describe("errorHandler: other errors", () => {
  it("answers a domain error with its code, detail, field errors, extension members and status", async () => {
    const thrown = new DomainError("registry_host_mismatch", "The image is not on this registry.", {
      fieldErrors: [{ path: "/body/image", message: "must be on the registry's host" }],
      extensions: { registry_id: "r1" },
      status: 409,
    });
    const { response, body, logs } = await answerFor(thrown);
    expect(response.status).toBe(409);
    expect(body).toMatchObject({
      status: 409,
      code: "registry_host_mismatch",
      detail: "The image is not on this registry.",
      errors: [{ path: "/body/image", message: "must be on the registry's host" }],
      registry_id: "r1",
    });
    expect(logged(logs).err).toBeUndefined();
    expect(logged(logs).level).toBe(30);
  });

  it("a domain error without options answers the table's status and no errors", async () => {
    const { response, body } = await answerFor(new DomainError("invalid_cursor", "The cursor is not one this server gave."));
    expect(response.status).toBe(422);
    expect(body).toEqual(expect.objectContaining({ status: 422, detail: "The cursor is not one this server gave." }));
    expect(body).not.toHaveProperty("errors");
  });

  it("a decryption failure: a safe detail, and only its reason logged", async () => {
    const { body, logs } = await answerFor(new DecryptionError("authentication_failed"));
    expect(body).toMatchObject({ detail: "The stored credential cannot be decrypted with the configured keys." });
    expect(logged(logs).err).toMatchObject({ message: "reason=authentication_failed", stack: "DecryptionError: reason=authentication_failed" });
  });

  it("an unreachable database: retry in 2 seconds", async () => {
    const { response, body, logs } = await answerFor(Object.assign(new Error(`connect ECONNREFUSED ${SECRET}`), { code: "ECONNREFUSED" }));
    expect(response.headers.get("retry-after")).toBe("2");
    expect(body).toMatchObject({ detail: "The database is unavailable; retry shortly." });
    expect(logged(logs).err).toMatchObject({ message: "database unavailable", stack: "DatabaseUnavailable: database unavailable" });
  });

  it("a database short of memory: retry in 5 seconds, its SQLSTATE logged", async () => {
    const { response, body, logs } = await answerFor(drizzleQueryError("53200"));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
    expect(body).toMatchObject({ detail: "The database is short of memory or another resource; retry shortly." });
    expect(logged(logs).err).toMatchObject({ sqlstate: "53200", stack: "DatabaseInsufficientResources: the database is short of resources" });
  });

  it("a full disk by the OS' own code: logged without an SQLSTATE", async () => {
    const { response, logs } = await answerFor(Object.assign(new Error(`write ${SECRET}`), { code: "ENOSPC" }));
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(logged(logs).err).toMatchObject({ stack: "DatabaseDiskFull: the database has no space left to write" });
    expect(logged(logs).err).not.toHaveProperty("sqlstate");
  });

  // A violation's kind names its SQLSTATE (23505, 23503); any other logs the SQLSTATE itself.
  it.each([
    ["23505", "unique_violation", undefined],
    ["23503", "foreign_key_violation", undefined],
    ["XX000", "other", "XX000"],
  ])("a driver error %s nobody handled: a 500 logging its kind, never its message", async (sqlstate, kind, loggedSqlstate) => {
    const { response, body, logs } = await answerFor(drizzleQueryError(sqlstate));
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ detail: INTERNAL_DETAIL });
    expect(logged(logs).err).toMatchObject({ message: `database error kind=${kind}`, stack: `DatabaseError: database error kind=${kind}` });
    expect(logged(logs).err?.sqlstate).toBe(loggedSqlstate);
    expect(logs).not.toContain(SECRET);
  });

  it.each([
    ["named DrizzleQueryError", Object.assign(new Error(`Failed query ${SECRET}`), { name: "DrizzleQueryError" })],
    ["with a query and its params", Object.assign(new Error(`Failed query ${SECRET}`), { query: "select", params: [SECRET] })],
  ])("a query error %s without a code: 'query failed', never its message", async (_label, thrown) => {
    const { logs } = await answerFor(thrown);
    expect(logged(logs).err).toMatchObject({ message: "query failed", stack: "DatabaseError: query failed" });
    expect(logs).not.toContain(SECRET);
  });

  it("an error with only a query or only params is not a query error: its message is logged", async () => {
    const { logs } = await answerFor(Object.assign(new Error("half a query error"), { query: "select" }));
    expect(logged(logs).err?.message).toBe("half a query error");
  });

  it("something thrown that is no error: a 500, logged as such", async () => {
    const { response, logs } = await answerFor("a bare string");
    expect(response.status).toBe(500);
    expect(logged(logs).err?.message).toBe("non-error thrown");
    expect(logs).not.toContain("a bare string");
  });

  it("an error-shaped object that is no Error (a status and an errors list) is not the validator's: a 500", async () => {
    const { response, body, logs } = await answerFor({ status: 404, errors: [], headers: { Allow: "GET" } });
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error", detail: INTERNAL_DETAIL });
    expect(response.headers.get("allow")).toBeNull();
    expect(logged(logs).err?.message).toBe("non-error thrown");
  });

  it.each([null, undefined])("handed %s as the error: a 500 logged as a non-error, never a crash of its own", async (nothing) => {
    const { response, body, logs } = await answerFor(new Error("not thrown"), (req, res, next) => errorHandler(nothing, req, res, next));
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ code: "internal_error", detail: INTERNAL_DETAIL });
    expect(logged(logs).err).toMatchObject({ message: "non-error thrown", stack: expect.stringMatching(/^Error: non-error thrown\n/) });
  });

  it("an error after the answer has started is passed on untouched", () => {
    const thrown = new Error("late");
    const passed: unknown[] = [];
    const res = { headersSent: true } as Response;
    errorHandler(thrown, {} as Request, res, ((e?: unknown) => void passed.push(e)) as NextFunction);
    expect(passed).toEqual([thrown]);
    expect(res).not.toHaveProperty("err");
  });
});
