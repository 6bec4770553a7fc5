import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorHandler } from "./error-handler.js";
import { servePublic } from "./public-route.js";
import { staticRepresentation } from "./static-representation.js";

const page = staticRepresentation("<p>hello</p>", { contentType: "text/html; charset=utf-8", cacheControl: "no-cache" });

let url = "";
let close = async () => {};
beforeAll(async () => {
  const app = express();
  const router = express.Router();
  servePublic(router, "/page", page);
  app.use(router);
  app.use(errorHandler);
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
afterAll(() => close());

describe("servePublic", () => {
  it("answers GET with the representation, without a token", async () => {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("etag")).toBe(page.etag);
    expect(await response.text()).toBe("<p>hello</p>");
  });

  it("answers HEAD with the GET's headers and no body", async () => {
    const response = await fetch(url, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(page.etag);
    expect(await response.text()).toBe("");
  });

  it.each(["POST", "PUT", "DELETE", "PATCH"])("answers %s with the contract's 405 and Allow: GET, HEAD", async (method) => {
    const response = await fetch(url, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect(response.headers.get("www-authenticate")).toBeNull();
    expect(await response.json()).toMatchObject({ code: "method_not_allowed", detail: "This method is not allowed on this route." });
  });
});
