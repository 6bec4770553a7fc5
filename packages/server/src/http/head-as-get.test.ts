import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../logging.js";
import { allowWithHead, presentHeadAsGet, restoreHead } from "./head-as-get.js";
import { requestLogging } from "./request-logging.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/**
 * The app's order in small: request log (at `warn`, the level that reads the method when the
 * answer is finished), then a stand-in for the validator between the two halves, then a GET route.
 */
async function serve() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const seen = { validator: [] as string[], route: [] as string[] };
  const validator: RequestHandler = (req, _res, next) => {
    seen.validator.push(req.method);
    if (req.method !== "GET") return next(Object.assign(new Error("method not allowed"), { status: 405 }));
    if (req.query.fail !== undefined) return next(Object.assign(new Error("refused"), { status: 500 }));
    next();
  };
  const errors: ErrorRequestHandler = (err: { status: number }, req, res, _next) => {
    seen.route.push(`error ${req.method}`);
    res.status(err.status).json({ refused: true });
  };
  const app = express();
  app.use(requestLogging(createLogger("warn", sink)));
  app.use(presentHeadAsGet);
  app.use(validator);
  app.use(restoreHead);
  app.get("/thing", (req, res) => {
    seen.route.push(req.method);
    res.json({ thing: "a body the HEAD answer must not carry" });
  });
  app.use(errors);
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  close = () => new Promise((resolve) => server.close(() => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request = async (method: string, path: string) => {
    const response = await fetch(url + path, { method });
    const body = await response.text();
    await new Promise((r) => setTimeout(r, 20));
    return { response, body };
  };
  return { request, lines, seen };
}

describe("HEAD presented to the validator as GET", () => {
  it("the validator sees GET, the route HEAD; the answer is the GET's status and headers without its body", async () => {
    const { request, seen } = await serve();
    const get = await request("GET", "/thing");
    const head = await request("HEAD", "/thing");
    expect(seen.validator).toEqual(["GET", "GET"]);
    expect(seen.route).toEqual(["GET", "HEAD"]);
    expect(head.response.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.response.headers.get("content-type")).toBe(get.response.headers.get("content-type"));
    expect(head.response.headers.get("content-length")).toBe(String(Buffer.byteLength(get.body)));
    expect(head.response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a HEAD the validator refuses reaches the error handler and the log as HEAD", async () => {
    const { request, lines, seen } = await serve();
    const head = await request("HEAD", "/thing?fail");
    expect(head.response.status).toBe(500);
    expect(head.body).toBe("");
    expect(seen.route).toEqual(["error HEAD"]);
    expect(lines.map((l) => JSON.parse(l).req)).toEqual([{ id: expect.any(String), method: "HEAD", path: "/thing" }]);
  });

  it("leaves every other method as it is", async () => {
    const { request, seen } = await serve();
    expect((await request("POST", "/thing")).response.status).toBe(405);
    expect((await request("DELETE", "/thing")).response.status).toBe(405);
    expect(seen.validator).toEqual(["POST", "DELETE"]);
    expect(seen.route).toEqual(["error POST", "error DELETE"]);
  });
});

describe("allowWithHead", () => {
  it.each([
    ["GET, PUT, DELETE", "GET, PUT, DELETE, HEAD"],
    ["GET", "GET, HEAD"],
    ["POST", "POST"],
    ["GET, HEAD", "GET, HEAD"],
    ["", ""],
    ["GET,PUT", "GET, PUT, HEAD"],
    ["GET, , PUT,", "GET, PUT, HEAD"],
  ])("%j → %j", (allow, expected) => {
    expect(allowWithHead(allow)).toBe(expected);
  });
});
