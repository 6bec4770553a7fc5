import { randomUUID } from "node:crypto";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { postgresAdminUrl } from "@modbox/testkit/databases";
import { header, mapLimit, send, type RawRequest } from "@modbox/testkit/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ECR_SERVER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const PAIRS = 500;
const IN_FLIGHT = 64;

/**
 * Concurrent writes on PostgreSQL (real parallelism: several connections, READ COMMITTED), where
 * a lost update used to break the provider rules: each of two updates is valid on the stored
 * registry, but not both together.
 */
describe.runIf(postgresAdminUrl)("concurrent conflicting writes on postgres", () => {
  let app: TestApp;
  const ws = `ws-${randomUUID()}`;
  const call = (req: Omit<RawRequest, "token" | "workspace">) => send(app.url, { token: app.token, workspace: ws, ...req });

  beforeAll(async () => {
    app = await startTestApp("postgres");
  });
  afterAll(() => app?.close());

  it(`${PAIRS * 2} updates in conflicting pairs: no stored registry breaks a create-time rule`, { timeout: 180_000 }, async () => {
    // Each registry: username AWS on a self-hosted server. PUT {server: ECR} alone is valid (ECR
    // wants AWS); PUT {username: bob} alone is valid (any username off ECR). Together they would
    // store an ECR registry with username bob, which a create refuses with 422.
    const ids = await mapLimit(Array.from({ length: PAIRS }), IN_FLIGHT, async () => {
      const created = await call({
        method: "POST",
        path: "/registries",
        json: { name: `r-${randomUUID()}`, server: "registry.example.com", username: "AWS", password: `pw-${randomUUID()}` },
      });
      expect(created.status).toBe(201);
      return (created.json as { id: string }).id;
    });
    const writes = ids.flatMap((id) => [
      { id, json: { server: ECR_SERVER } },
      { id, json: { username: "bob" } },
    ]);
    // Interleave so both halves of a pair are in flight together.
    const statuses = await mapLimit(writes, IN_FLIGHT, async ({ id, json }) => (await call({ method: "PUT", path: `/registries/${id}`, json })).status);

    const outcomes = new Map<string, number[]>();
    writes.forEach(({ id }, i) => outcomes.set(id, [...(outcomes.get(id) ?? []), statuses[i]!]));
    for (const [id, pair] of outcomes) {
      // Whichever committed first, the second is checked against it and refused.
      expect(pair.sort(), id).toEqual([200, 422]);
      const stored = (await call({ method: "GET", path: `/registries/${id}` })).json as { provider: string; username: string };
      expect(stored.provider === "ecr" && stored.username !== "AWS", `${id}: ${JSON.stringify(stored)}`).toBe(false);
    }
  });

  it("1000 concurrent updates with the same If-Match: exactly one wins, 999 get 412", async () => {
    const created = await call({ method: "POST", path: "/registries", json: { name: `r-${randomUUID()}`, server: "registry.example.com", username: "u", password: "p" } });
    const id = (created.json as { id: string }).id;
    const tag = header(created, "etag")!;

    const statuses = await mapLimit(Array.from({ length: 1000 }, (_, i) => i), IN_FLIGHT, async (i) =>
      (await call({ method: "PUT", path: `/registries/${id}`, json: { username: `writer-${i}` }, headers: { "if-match": tag } })).status,
    );

    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(999);
    const stored = await call({ method: "GET", path: `/registries/${id}` });
    expect(header(stored, "etag")).toMatch(/^"2\./);
    expect((stored.json as { username: string }).username).toBe(`writer-${statuses.indexOf(200)}`);
  });

  it("1000 concurrent updates without If-Match all apply, one after another (each a new version)", { timeout: 180_000 }, async () => {
    const created = await call({ method: "POST", path: "/sandbox-images", json: { name: `i-${randomUUID()}`, image: "ghcr.io/acme/app" } });
    const id = (created.json as { id: string }).id;

    const statuses = await mapLimit(Array.from({ length: 1000 }, (_, i) => i), IN_FLIGHT, async (i) =>
      (await call({ method: "PUT", path: `/sandbox-images/${id}`, json: { description: `writer-${i}` } })).status,
    );

    // A lost compare-and-set is retried (each loss means another write committed), so with 64
    // in flight none runs out of attempts.
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(header(await call({ method: "GET", path: `/sandbox-images/${id}` }), "etag")).toMatch(/^"1001\./);
  });
});
