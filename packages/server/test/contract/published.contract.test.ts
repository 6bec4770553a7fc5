/**
 * What the server publishes without a token: `/` (links), the contract as `/openapi.yaml` (the
 * file, byte for byte) and `/openapi.json` (the same document), and the API reference page at
 * `/docs` with its script. The page in a real browser is test/e2e/api-reference.browser.test.ts.
 *
 * PGlite only: nothing here touches the database.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPENAPI_SPEC_PATH } from "../../src/app.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { contractOperations, contractSchema } from "@modbox/testkit/contract";
import { expectProblem, header, send, type RawResponse } from "@modbox/testkit/http";
import { freshWorkspaceId } from "@modbox/testkit/ids";

const SPEC_BYTES = readFileSync(OPENAPI_SPEC_PATH);
const SPEC = load(SPEC_BYTES.toString("utf8")) as { info: { title: string; version: string } };
const OPERATIONS = contractOperations();
const PUBLIC = OPERATIONS.filter((op) => op.public);
const META_PATHS = ["/", "/openapi.yaml", "/openapi.json", "/docs"];
/** A strong entity tag: quoted, no `W/`. */
const STRONG_TAG = /^"[A-Za-z0-9_-]+"$/;

/** The answer's body as bytes, over node:http (fetch would decompress a gzip answer behind our back). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

describe("the published contract and docs (no token)", () => {
  let app: TestApp;
  const get = (path: string, headers: Record<string, string> = {}) => send(app.url, { method: "GET", path, headers });

  beforeAll(async () => {
    app = await startTestApp("pglite");
  });
  afterAll(() => app?.close());

  it("GET /openapi.yaml is the file, byte for byte, as application/yaml", async () => {
    const res = await rawGet(`${app.url}/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/yaml");
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.body.equals(SPEC_BYTES)).toBe(true);
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers.etag).toMatch(STRONG_TAG);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("GET /openapi.json is the same document as JSON: the same members in the same order", async () => {
    const res = await get("/openapi.json");
    expect(res.status).toBe(200);
    expect(header(res, "content-type")).toBe("application/json; charset=utf-8");
    expect(res.json).toEqual(load(SPEC_BYTES.toString("utf8")));
    expect(JSON.stringify(res.json)).toBe(JSON.stringify(load(SPEC_BYTES.toString("utf8"))));
    expect(header(res, "cache-control")).toBe("no-cache");
    expect(header(res, "etag")).toMatch(STRONG_TAG);
    expect(header(res, "etag")).not.toBe(header(await get("/openapi.yaml"), "etag"));
  });

  it("GET / links the contract, the page and the probes, as the contract's ServiceIndex says; every link answers", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(header(res, "content-type")).toBe("application/json; charset=utf-8");
    expect(res.json).toEqual({
      name: SPEC.info.title,
      version: SPEC.info.version,
      links: { docs: "/docs", openapi_json: "/openapi.json", openapi_yaml: "/openapi.yaml", health: "/healthz", readiness: "/readyz" },
    });
    const links = (res.json as { links: Record<string, string> }).links;
    const schema = contractSchema("ServiceIndex") as { properties: { links: { required: string[] } } };
    expect(Object.keys(links).sort()).toEqual([...schema.properties.links.required].sort());
    for (const [name, path] of Object.entries(links)) expect((await get(path)).status, name).toBe(200);
  });

  it("the public operations are the probes and these four, and they are all a token-less GET; every other operation wants a token", async () => {
    expect(PUBLIC.map((op) => `${op.method} ${op.path}`).sort()).toEqual(
      ["GET /", "GET /docs", "GET /healthz", "GET /openapi.json", "GET /openapi.yaml", "GET /readyz"].sort(),
    );
    for (const op of PUBLIC) {
      // No Authorization at all, and one the server would refuse: neither matters here.
      for (const headers of [{}, { authorization: "Bearer mbx_not-a-token" }] as Record<string, string>[]) {
        const res = await send(app.url, { method: op.method, path: op.path, headers });
        expect(res.status, `${op.method} ${op.path}`).toBe(200);
        expect(op.okMediaTypes.map((type) => header(res, "content-type")?.startsWith(type)), `${op.method} ${op.path}`).toContain(true);
      }
    }
    const workspace = freshWorkspaceId("published");
    for (const op of OPERATIONS.filter((o) => !o.public)) {
      const path = op.path.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000");
      const res = await send(app.url, { method: op.method, path, workspace, ...(op.method !== "GET" && op.method !== "DELETE" && { json: {} }) });
      expectProblem(res, 401, "unauthorized", `${op.method} ${op.path}`);
    }
  });

  it.each(META_PATHS)("HEAD %s answers the GET's status and headers with no body, without a token", async (path) => {
    const [getRes, headRes] = [await get(path), await send(app.url, { method: "HEAD", path })];
    const comparable = (res: RawResponse) => res.headers.filter(([name]) => !["date", "x-request-id", "connection", "keep-alive"].includes(name));
    expect(headRes.status).toBe(200);
    expect(headRes.text).toBe("");
    expect(comparable(headRes)).toEqual(comparable(getRes));
  });

  it.each(META_PATHS)("If-None-Match on %s: 304 with the tag while it is current, 200 otherwise, 400 when malformed", async (path) => {
    const first = await get(path);
    const etag = header(first, "etag")!;
    for (const ifNoneMatch of [etag, `"other", ${etag}`, "*"]) {
      const res = await get(path, { "if-none-match": ifNoneMatch });
      expect(res.status, ifNoneMatch).toBe(304);
      expect(res.text).toBe("");
      expect(header(res, "etag")).toBe(etag);
      expect(header(res, "cache-control")).toBe("no-cache");
    }
    expect((await get(path, { "if-none-match": '"stale"' })).status).toBe(200);
    const malformed = await get(path, { "if-none-match": "not-quoted" });
    expectProblem(malformed, 400, "malformed_request");
    expect(header(malformed, "etag")).toBeUndefined();
  });

  it("other methods on the public routes: the 405 every route answers, Allow: GET, HEAD, no token needed", async () => {
    // The contract's own 405, for comparison (with a token: the validator answers it after authentication).
    const reference = await send(app.url, { method: "DELETE", path: "/registries", token: app.token, workspace: freshWorkspaceId("published") });
    const expected = expectProblem(reference, 405, "method_not_allowed");
    for (const path of [...META_PATHS, "/docs/"]) {
      for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
        const res = await send(app.url, { method, path, ...(method !== "OPTIONS" && method !== "DELETE" && { json: {} }) });
        const problem = expectProblem(res, 405, "method_not_allowed", `${method} ${path}`);
        expect(header(res, "allow"), `${method} ${path}`).toBe("GET, HEAD");
        expect({ title: problem.title, detail: problem.detail }).toEqual({ title: expected.title, detail: expected.detail });
      }
    }
  });

  describe("/docs", () => {
    let page: RawResponse;
    let scriptPath: string;
    beforeAll(async () => {
      page = await get("/docs");
      scriptPath = /<script type="module" src="([^"]+)"><\/script>/.exec(page.text)?.[1] ?? "";
    });

    it("is a small HTML page that loads Redoc from this server and renders /openapi.json, with no inline script", () => {
      expect(page.status).toBe(200);
      expect(header(page, "content-type")).toBe("text/html; charset=utf-8");
      expect(page.text).toContain('<redoc spec-url="/openapi.json" disable-telemetry="true"></redoc>');
      expect(page.text).toContain(`<title>${SPEC.info.title} ${SPEC.info.version}</title>`);
      expect(scriptPath).toMatch(/^\/docs\/assets\/redoc-\d+\.\d+\.\d+[^/]*\.[A-Za-z0-9_-]{16}\.js$/);
      expect(page.text.match(/<script\b/g)).toHaveLength(1);
      // Every URL the page names is on this server (or inline data).
      const urls = [...page.text.matchAll(/\b(?:src|href|spec-url)="([^"]*)"/g)].map((m) => m[1]!);
      expect(urls.length).toBeGreaterThanOrEqual(3);
      for (const url of urls) expect(url, url).toMatch(/^(\/(?!\/)|data:)/);
    });

    it("forbids every other host with its Content-Security-Policy", () => {
      const csp = header(page, "content-security-policy")!;
      const directives = new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...sources]) => [name!, sources]));
      expect(directives.get("default-src")).toEqual(["'self'"]);
      expect(directives.get("script-src")).toEqual(["'self'"]);
      expect(directives.get("connect-src")).toEqual(["'self'"]);
      expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
      // No host, no scheme but data: (images and fonts), nothing that runs code from a string.
      for (const [name, sources] of directives) {
        for (const source of sources) expect(`${name} ${source}`).toMatch(/ ('self'|'none'|'unsafe-inline'|data:)$/);
        if (name !== "style-src") expect(sources, name).not.toContain("'unsafe-inline'");
      }
      expect(header(page, "referrer-policy")).toBe("no-referrer");
    });

    it("serves Redoc's bundle from @redocly/cli byte for byte, cached for a year, gzipped when asked", async () => {
      const bundle = readFileSync(createRequire(import.meta.url).resolve("@redocly/cli/lib/chunks/redoc.standalone.js"));
      const plain = await rawGet(app.url + scriptPath);
      expect(plain.status).toBe(200);
      expect(plain.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(plain.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(plain.headers.vary).toBe("Accept-Encoding");
      expect(plain.body.equals(bundle)).toBe(true);
      const gzipped = await rawGet(app.url + scriptPath, { "accept-encoding": "gzip, br" });
      expect(gzipped.headers["content-encoding"]).toBe("gzip");
      expect(gzipped.headers.etag).not.toBe(plain.headers.etag);
      expect(gzipped.body.length).toBeLessThan(bundle.length / 2);
      expect(gunzipSync(gzipped.body).equals(bundle)).toBe(true);
      // A client that refuses gzip gets the bytes as they are.
      expect((await rawGet(app.url + scriptPath, { "accept-encoding": "gzip;q=0, identity" })).headers["content-encoding"]).toBeUndefined();
    });

    it("any other path under /docs is not public: 401 without a token, 404 with one", async () => {
      const other = scriptPath.replace(/\.js$/, "x.js");
      expectProblem(await get(other), 401, "unauthorized");
      expectProblem(await send(app.url, { method: "GET", path: other, token: app.token, workspace: freshWorkspaceId("published") }), 404, "not_found");
    });
  });
});
