import { randomUUID } from "node:crypto";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";
import { expectProblem, header, send, type RawRequest, type RawResponse } from "@modbox/testkit/http";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryBody } from "./rules-app.js";

/** Our entity tags: a strong, quoted `"<version>.<state digest>"`. */
const TAG = /^"(\d+)\.[A-Za-z0-9_-]{8}"$/;

const versionOf = (tag: string | undefined) => Number(TAG.exec(tag ?? "")?.[1]);

/** ETag, If-Match and If-None-Match (RFC 9110) on registries and sandbox images, over raw HTTP. */
describe.each(backends)("conditional requests on %s", (backend) => {
  let app: TestApp;
  const ws = `ws-${randomUUID()}`;
  const call = (req: Omit<RawRequest, "token" | "workspace">): Promise<RawResponse> =>
    send(app.url, { token: app.token, workspace: ws, ...req });

  beforeAll(async () => {
    app = await startTestApp(backend);
  });
  afterAll(() => app?.close());

  async function createRegistry() {
    const created = await call({ method: "POST", path: "/registries", json: registryBody() });
    expect(created.status).toBe(201);
    return { id: (created.json as { id: string }).id, tag: header(created, "etag")! };
  }

  describe("registries", () => {
    it("carries the same strong ETag on create and get, and a new version after an update", async () => {
      const { id, tag } = await createRegistry();
      expect(tag).toMatch(TAG);
      expect(versionOf(tag)).toBe(1);
      expect(header(await call({ method: "GET", path: `/registries/${id}` }), "etag")).toBe(tag);

      const updated = await call({ method: "PUT", path: `/registries/${id}`, json: { enabled: false } });
      expect(updated.status).toBe(200);
      expect(versionOf(header(updated, "etag"))).toBe(2);
      expect(header(await call({ method: "GET", path: `/registries/${id}` }), "etag")).toBe(header(updated, "etag"));
    });

    it("If-None-Match with the current tag (or *, or the weak form) answers 304 with the tag and no body", async () => {
      const { id, tag } = await createRegistry();
      for (const value of [tag, "*", `W/${tag}`, `"1.stale000", ${tag}`]) {
        const res = await call({ method: "GET", path: `/registries/${id}`, headers: { "if-none-match": value } });
        expect(res.status, value).toBe(304);
        expect(res.text, value).toBe("");
        expect(header(res, "etag"), value).toBe(tag);
      }
      const changed = await call({ method: "GET", path: `/registries/${id}`, headers: { "if-none-match": '"1.stale000"' } });
      expect(changed.status).toBe(200);
      expect(changed.json).toMatchObject({ id });
    });

    it("a stale If-Match on PUT is 412 precondition_failed and changes nothing; the current one applies", async () => {
      const { id, tag } = await createRegistry();
      const moved = await call({ method: "PUT", path: `/registries/${id}`, json: { username: "first-writer" } });
      const before = await call({ method: "GET", path: `/registries/${id}` });

      const stale = await call({ method: "PUT", path: `/registries/${id}`, json: { username: "second" }, headers: { "if-match": tag } });
      expectProblem(stale, 412, "precondition_failed");
      expect((stale.json as { detail: string }).detail).toContain("version 2");
      expect((await call({ method: "GET", path: `/registries/${id}` })).json).toEqual(before.json);

      const current = await call({
        method: "PUT",
        path: `/registries/${id}`,
        json: { username: "second" },
        headers: { "if-match": `${tag}, ${header(moved, "etag")!}` },
      });
      expect(current.status).toBe(200);
      expect(current.json).toMatchObject({ username: "second" });
      expect(versionOf(header(current, "etag"))).toBe(3);
    });

    it("If-Match: * applies to any current version; a weak or foreign tag never matches", async () => {
      const { id, tag } = await createRegistry();
      expectProblem(
        await call({ method: "PUT", path: `/registries/${id}`, json: { enabled: false }, headers: { "if-match": `W/${tag}` } }),
        412,
        "precondition_failed",
      );
      expectProblem(
        await call({ method: "PUT", path: `/registries/${id}`, json: { enabled: false }, headers: { "if-match": '"1"' } }),
        412,
        "precondition_failed",
      );
      const any = await call({ method: "PUT", path: `/registries/${id}`, json: { enabled: false }, headers: { "if-match": "*" } });
      expect(any.status).toBe(200);
    });

    it("a malformed If-Match or If-None-Match is 400 malformed_request, before anything changes", async () => {
      const { id } = await createRegistry();
      for (const value of ["1", "1.abcdefgh", '"1.abcdefgh", 2', 'W/1']) {
        const put = await call({ method: "PUT", path: `/registries/${id}`, json: { enabled: false }, headers: { "if-match": value } });
        expectProblem(put, 400, "malformed_request", value);
        const get = await call({ method: "GET", path: `/registries/${id}`, headers: { "if-none-match": value } });
        expectProblem(get, 400, "malformed_request", value);
      }
      expect((await call({ method: "GET", path: `/registries/${id}` })).json).toMatchObject({ enabled: true });
    });

    it("bookkeeping (last use) changes the tag but not its version: If-Match still applies, If-None-Match sees the change", async () => {
      const { id, tag } = await createRegistry();
      await app.database.db.execute(sql`update registries set last_used_at = now() where id = ${id}`);

      const read = await call({ method: "GET", path: `/registries/${id}`, headers: { "if-none-match": tag } });
      expect(read.status).toBe(200);
      expect(header(read, "etag")).not.toBe(tag);
      expect(versionOf(header(read, "etag"))).toBe(1);

      const edit = await call({ method: "PUT", path: `/registries/${id}`, json: { email: "ops@example.com" }, headers: { "if-match": tag } });
      expect(edit.status).toBe(200);
    });

    it("DELETE honours If-Match: stale is 412 and keeps the registry, current deletes it", async () => {
      const { id, tag } = await createRegistry();
      await call({ method: "PUT", path: `/registries/${id}`, json: { enabled: false } });

      expectProblem(await call({ method: "DELETE", path: `/registries/${id}`, headers: { "if-match": tag } }), 412, "precondition_failed");
      const current = header(await call({ method: "GET", path: `/registries/${id}` }), "etag")!;
      expect((await call({ method: "DELETE", path: `/registries/${id}`, headers: { "if-match": current } })).status).toBe(204);
    });

    it("a missing registry is 404 whatever the precondition", async () => {
      const missing = randomUUID();
      const preconditions: Record<string, string>[] = [{ "if-match": '"1.abcdefgh"' }, { "if-match": "*" }, { "if-none-match": "*" }];
      for (const headers of preconditions) {
        const method = "if-none-match" in headers ? "GET" : "PUT";
        const res = await call({ method, path: `/registries/${missing}`, json: method === "PUT" ? { enabled: false } : undefined, headers });
        expectProblem(res, 404, "not_found");
      }
      expectProblem(await call({ method: "DELETE", path: `/registries/${missing}`, headers: { "if-match": "*" } }), 404, "not_found");
    });
  });

  describe("sandbox images", () => {
    async function createImage(registryId?: string) {
      const created = await call({
        method: "POST",
        path: "/sandbox-images",
        json: { name: `image ${randomUUID()}`, image: "ghcr.io/acme/app", ...(registryId && { registry_id: registryId }) },
      });
      expect(created.status).toBe(201);
      return { id: (created.json as { id: string }).id, tag: header(created, "etag")! };
    }

    it("carry an ETag; If-Match and If-None-Match work as on registries", async () => {
      const { id, tag } = await createImage();
      expect(versionOf(tag)).toBe(1);
      expect((await call({ method: "GET", path: `/sandbox-images/${id}`, headers: { "if-none-match": tag } })).status).toBe(304);

      const updated = await call({ method: "PUT", path: `/sandbox-images/${id}`, json: { tag: "v2" }, headers: { "if-match": tag } });
      expect(updated.status).toBe(200);
      expect(versionOf(header(updated, "etag"))).toBe(2);

      expectProblem(
        await call({ method: "PUT", path: `/sandbox-images/${id}`, json: { tag: "v3" }, headers: { "if-match": tag } }),
        412,
        "precondition_failed",
      );
      expect((await call({ method: "GET", path: `/sandbox-images/${id}` })).json).toMatchObject({ tag: "v2" });
      expectProblem(await call({ method: "DELETE", path: `/sandbox-images/${id}`, headers: { "if-match": tag } }), 412, "precondition_failed");
      expect((await call({ method: "DELETE", path: `/sandbox-images/${id}`, headers: { "if-match": header(updated, "etag")! } })).status).toBe(204);
      expectProblem(await call({ method: "DELETE", path: `/sandbox-images/${id}`, headers: { "if-match": "*" } }), 404, "not_found");
    });

    it("a rename of the linked registry changes the image's tag (its registry_name shows) but not its version", async () => {
      const registry = await createRegistry();
      const { id, tag } = await createImage(registry.id);
      await call({ method: "PUT", path: `/registries/${registry.id}`, json: { name: `renamed ${randomUUID()}` } });

      const read = await call({ method: "GET", path: `/sandbox-images/${id}`, headers: { "if-none-match": tag } });
      expect(read.status).toBe(200);
      expect(header(read, "etag")).not.toBe(tag);
      expect(versionOf(header(read, "etag"))).toBe(1);
      expect((await call({ method: "PUT", path: `/sandbox-images/${id}`, json: { enabled: false }, headers: { "if-match": tag } })).status).toBe(200);
    });
  });
});
