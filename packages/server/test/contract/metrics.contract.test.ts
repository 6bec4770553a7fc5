import { randomBytes, randomUUID } from "node:crypto";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { contractPathsWith } from "@modbox/testkit/contract";
import { backends } from "@modbox/testkit/databases";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import { createMetrics, type Metrics } from "../../src/metrics/registry.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The metrics the real app counts, read from its registry after real requests: the route label
 * holds the contract's templates whatever ids, paths or names clients send, and nothing an API
 * user typed (a registry's name, its password, a token, an id) reaches a label.
 */
const CONTRACT_PATHS = new Set(["get", "post", "put", "delete"].flatMap(contractPathsWith));
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe.each(backends)("metrics of the app (%s)", (backend) => {
  let app: TestApp;
  let metrics: Metrics;
  const workspace = freshWorkspaceId("metrics");
  const canaryName = `canary-name-${randomBytes(6).toString("hex")}`;
  const canaryPassword = `canary-password-${randomBytes(12).toString("hex")}`;
  const ids: string[] = [];
  let provisionerToken: string;

  const call = (method: string, path: string, options: { token?: string | null; body?: unknown } = {}) =>
    fetch(`${app.url}${path}`, {
      method,
      headers: {
        ...(options.token !== null && { authorization: `Bearer ${options.token ?? app.token}` }),
        "x-workspace-id": workspace,
        ...(options.body !== undefined && { "content-type": "application/json" }),
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });

  beforeAll(async () => {
    metrics = createMetrics({ dbPoolSize: backend === "postgres" ? 5 : 1 });
    app = await startTestApp(backend, { metrics });
    provisionerToken = await app.createToken({ workspaceIds: [workspace], scope: "provisioner" });

    // Port 1 on loopback refuses at once (the test app may reach loopback): a failed verification.
    const created = await call("POST", "/registries", {
      body: { name: canaryName, server: "127.0.0.1:1", username: "robot", password: canaryPassword },
    });
    expect(created.status).toBe(201);
    const registryId = ((await created.json()) as { id: string }).id;
    const image = await call("POST", "/sandbox-images", {
      body: { name: `${canaryName}-image`, image: "127.0.0.1:1/team/app", tag: "v1", registry_id: registryId },
    });
    expect(image.status).toBe(201);
    const imageId = ((await image.json()) as { id: string }).id;
    ids.push(registryId, imageId);

    expect((await call("GET", `/registries/${registryId}`)).status).toBe(200);
    expect((await call("HEAD", `/registries/${registryId}`)).status).toBe(200);
    expect((await call("POST", `/registries/${registryId}/verify`)).status).toBe(200);
    expect((await call("POST", `/sandbox-images/${imageId}/pull-credentials`, { token: provisionerToken })).status).toBe(200);
    expect((await call("POST", `/sandbox-images/${imageId}/pull-credentials`)).status).toBe(403);
    expect((await call("POST", `/sandbox-images/${randomUUID()}/pull-credentials`, { token: provisionerToken })).status).toBe(404);
    // Many distinct ids and paths: the label set must not grow with them.
    for (let i = 0; i < 25; i++) {
      const id = randomUUID();
      ids.push(id);
      expect((await call("GET", `/registries/${id}`)).status).toBe(404);
      expect((await call("GET", `/sandbox-images/${id}`)).status).toBe(404);
      expect((await call("GET", `/not-a-route/${id}`)).status).toBe(404);
      expect((await call("GET", `/registries/${id}`, { token: null })).status).toBe(401);
    }
    expect((await call("GET", `/registries/not-a-uuid-${canaryName}`)).status).toBe(422);
    expect((await call("GET", "/healthz", { token: null })).status).toBe(200);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** The values of `label` across every sample of `family`. */
  async function labelValues(family: string, label: string): Promise<Set<string>> {
    const found = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === family);
    return new Set(found!.values.map((v) => String((v.labels as Record<string, unknown>)[label])));
  }

  it("labels every request with the contract's route template, or `unmatched`", async () => {
    const routes = await labelValues("http_request_duration_seconds", "route");
    expect([...routes].sort()).toEqual(
      [
        "/healthz",
        "/registries",
        "/registries/{registry_id}",
        "/registries/{registry_id}/verify",
        "/sandbox-images",
        "/sandbox-images/{image_id}",
        "/sandbox-images/{image_id}/pull-credentials",
        "unmatched",
      ].sort(),
    );
    for (const route of routes) expect(route === "unmatched" || CONTRACT_PATHS.has(route)).toBe(true);
    expect(await labelValues("http_request_duration_seconds", "method")).toEqual(new Set(["GET", "HEAD", "POST"]));
    expect(await labelValues("http_request_duration_seconds", "status")).toEqual(
      new Set(["200", "201", "401", "403", "404", "422"]),
    );
  });

  it("counts requests per template: 25 distinct ids are one series", async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/registries/{registry_id}",status="404"} 25');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="unmatched",status="401"} 25');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 25');
    expect(text).toContain('http_request_duration_seconds_count{method="HEAD",route="/registries/{registry_id}",status="200"} 1');
  });

  it("counts pull credentials by audited outcome and verifications by status and code", async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain('modbox_pull_credentials_total{outcome="issued"} 1');
    expect(text).toContain('modbox_pull_credentials_total{outcome="insufficient_scope"} 1');
    expect(text).toContain('modbox_pull_credentials_total{outcome="not_found"} 1');
    expect(text).toContain('modbox_registry_verifications_total{status="failed",error_code="registry_unreachable"} 1');
    expect(text).toContain('modbox_registry_verifications_total{status="verified",error_code="none"} 0');
  });

  it("reports the pool and the encryptions per key id", async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain(`modbox_db_pool_size ${backend === "postgres" ? 5 : 1}`);
    expect(text).toMatch(/^modbox_db_pool_in_use \d+$/m);
    expect(text).toMatch(/^modbox_db_pool_waiting \d+$/m);
    // One password sealed (plus the start-up self-test's encryption); a block of 1,024 reserved.
    expect(text).toMatch(/^modbox_encryptions_total\{key_id="[^"]+"\} 2$/m);
    expect(text).toMatch(/^modbox_encryption_key_reserved_encryptions\{key_id="[^"]+"\} \d{4,}$/m);
  });

  it("holds no id, name, password or token", async () => {
    const text = await metrics.registry.metrics();
    for (const secret of [canaryName, canaryPassword, app.token, provisionerToken, workspace, ...ids]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(UUID);
    expect(text).not.toContain("mbx_");
  });
});
