import { once } from "node:events";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorHandler } from "./error-handler.js";
import { gunzipSync } from "node:zlib";
import { contentDigest, sendRepresentation, staticRepresentation } from "./static-representation.js";

const small = staticRepresentation('{"a":1}', { contentType: "application/json; charset=utf-8", cacheControl: "no-cache" });
const large = staticRepresentation("x".repeat(200_000), { contentType: "text/plain", cacheControl: "no-cache", headers: { "X-Extra": "yes" } });

let url = "";
let close = async () => {};
beforeAll(async () => {
  const app = express();
  app.set("etag", false);
  app.get("/small", (req, res) => sendRepresentation(req, res, small));
  app.get("/large", (req, res) => sendRepresentation(req, res, large));
  app.use(errorHandler);
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
afterAll(() => close());

/** Raw bytes and headers: fetch would undo the gzip. */
function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; length: number }>((resolve, reject) => {
    request(`${url}${path}`, { headers }, (res) => {
      let length = 0;
      res.on("data", (chunk: Buffer) => (length += chunk.length));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, length }));
    })
      .on("error", reject)
      .end();
  });
}

describe("sendRepresentation", () => {
  it("answers a small body as it is, whatever the client accepts, with no Vary", async () => {
    const res = await get("/small", { "accept-encoding": "gzip" });
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.headers.vary).toBeUndefined();
    expect(res.headers.etag).toBe(small.etag);
    expect(res.length).toBe(7);
  });

  it("gzips a large body for a client that takes it, under its own tag, and says it varies", async () => {
    const plain = await get("/large");
    const gzipped = await get("/large", { "accept-encoding": "br, gzip" });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    expect([plain.headers.vary, gzipped.headers.vary]).toEqual(["Accept-Encoding", "Accept-Encoding"]);
    expect(gzipped.headers.etag).toBe(large.gzip!.etag);
    expect(gzipped.headers.etag).not.toBe(plain.headers.etag);
    expect(gzipped.length).toBeLessThan(plain.length / 10);
    expect(gzipped.headers["x-extra"]).toBe("yes");
  });

  it("304 only for the tag of the encoding it would send", async () => {
    expect((await get("/large", { "accept-encoding": "gzip", "if-none-match": large.gzip!.etag })).status).toBe(304);
    expect((await get("/large", { "accept-encoding": "gzip", "if-none-match": large.etag })).status).toBe(200);
    expect((await get("/large", { "if-none-match": large.etag })).status).toBe(304);
  });

  it("a malformed If-None-Match is a 400 problem without the representation's headers", async () => {
    const res = await get("/small", { "if-none-match": "unquoted" });
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers["cache-control"]).toBeUndefined();
  });
});

describe("sendRepresentation: the headers every answer carries", () => {
  it("a 200 says its type, caching, tag and nosniff", async () => {
    const res = await get("/small");
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-cache",
      etag: small.etag,
      "x-content-type-options": "nosniff",
    });
  });

  it("a 304 carries the tag, caching and the extra headers, but no type and no body", async () => {
    const res = await get("/large", { "if-none-match": large.etag });
    expect(res.status).toBe(304);
    expect(res.headers).toMatchObject({ etag: large.etag, "cache-control": "no-cache", vary: "Accept-Encoding", "x-extra": "yes", "x-content-type-options": "nosniff" });
    expect(res.headers["content-type"]).toBeUndefined();
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.length).toBe(0);
  });

  it("a 304 of the gzip copy carries its tag and Vary, but no Content-Encoding", async () => {
    const res = await get("/large", { "accept-encoding": "gzip", "if-none-match": large.gzip!.etag });
    expect(res.status).toBe(304);
    expect(res.headers).toMatchObject({ etag: large.gzip!.etag, vary: "Accept-Encoding" });
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.length).toBe(0);
  });

  it("a 304 also to a request that says Cache-Control: no-cache (it asked for this revalidation)", async () => {
    const res = await get("/small", { "if-none-match": small.etag, "cache-control": "no-cache" });
    expect(res.status).toBe(304);
    expect(res.length).toBe(0);
  });

  it.each([["identity"], ["gzip;q=0, identity"], ["deflate"], ["gzip;q=0.5, identity"]])("sends a large body as it is to a client that takes %j", async (accept) => {
    const res = await get("/large", { "accept-encoding": accept });
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.headers.etag).toBe(large.etag);
    expect(res.length).toBe(200_000);
  });
});

describe("staticRepresentation", () => {
  it("names its bytes by a 16-character digest, the same for a string and its UTF-8 bytes", () => {
    const text = staticRepresentation("é", { contentType: "text/plain", cacheControl: "max-age=60" });
    const bytes = staticRepresentation(Buffer.from("é", "utf8"), { contentType: "text/plain", cacheControl: "max-age=60" });
    expect(text.body).toEqual(Buffer.from([0xc3, 0xa9]));
    expect(text.etag).toBe(`"${contentDigest("é")}"`);
    expect(text.etag).toMatch(/^"[A-Za-z0-9_-]{16}"$/);
    expect(bytes.etag).toBe(text.etag);
    expect(contentDigest("a")).not.toBe(contentDigest("b"));
    expect(text).toEqual({ body: Buffer.from("é", "utf8"), contentType: "text/plain", cacheControl: "max-age=60", etag: text.etag });
  });

  it("keeps a gzip copy from 16 KiB on, under the tag of the bytes and -gzip", () => {
    const below = staticRepresentation("y".repeat(16 * 1024 - 1), { contentType: "text/plain", cacheControl: "no-cache" });
    const at = staticRepresentation("y".repeat(16 * 1024), { contentType: "text/plain", cacheControl: "no-cache" });
    expect(below).not.toHaveProperty("gzip");
    expect(at.gzip?.etag).toBe(`"${contentDigest("y".repeat(16 * 1024))}-gzip"`);
    expect(gunzipSync(at.gzip!.body).toString()).toBe("y".repeat(16 * 1024));
  });

  it("carries extra headers only when given", () => {
    const options = { contentType: "text/plain", cacheControl: "no-cache" };
    expect(staticRepresentation("a", { ...options, headers: { "X-Extra": "yes" } }).headers).toEqual({ "X-Extra": "yes" });
    expect(Object.keys(staticRepresentation("a", options))).toEqual(["body", "contentType", "cacheControl", "etag"]);
  });

  it("keeps the bytes it is given, not a copy", () => {
    const bytes = Buffer.from("x".repeat(100));
    expect(staticRepresentation(bytes, { contentType: "text/plain", cacheControl: "no-cache" }).body).toBe(bytes);
  });
});

