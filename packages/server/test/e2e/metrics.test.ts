/**
 * `MODBOX_METRICS_PORT` as an operator runs it: the real server process, some API calls (an id
 * path, a 404, a refusal), then a scrape of its own listener over HTTP. The Prometheus text has
 * every family, routes as the contract's templates, and none of the ids, names, passwords or
 * tokens the calls carried; the API port does not serve it; SIGTERM stops both listeners.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contractPathsWith } from "@modbox/testkit/contract";
import { killStartedProcesses, runToExit, startServerProcess, type ServerProcess } from "@modbox/testkit/processes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CONTRACT_PATHS = new Set(["get", "post", "put", "delete"].flatMap(contractPathsWith));

describe("the metrics listener of a server process", () => {
  let dataDir: string;
  let server: ServerProcess;
  let metricsUrl: string;
  let token: string;
  let scraped: string;
  const canaryName = `canary-name-${randomBytes(6).toString("hex")}`;
  const canaryPassword = `canary-password-${randomBytes(12).toString("hex")}`;
  const workspace = "metrics-e2e";
  const ids: string[] = [];

  const call = (method: string, path: string, options: { auth?: boolean; body?: unknown } = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(options.auth !== false && { authorization: `Bearer ${token}` }),
        "x-workspace-id": workspace,
        ...(options.body !== undefined && { "content-type": "application/json" }),
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modbox-metrics-e2e-"));
    server = await startServerProcess({ MODBOX_DATA_DIR: dataDir, MODBOX_METRICS_PORT: "0" });
    metricsUrl = /"metricsUrl":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(server.stdout())![1]!;
    token = /(mbx_[A-Za-z0-9_-]{40})/.exec(server.stderr())![1]!;

    // A loopback server: refused (MODBOX_OUTBOUND_ALLOW_PRIVATE is off) without any network.
    const created = await call("POST", "/registries", {
      body: { name: canaryName, server: "127.0.0.1:5000", username: "robot", password: canaryPassword },
    });
    expect(created.status).toBe(201);
    const registryId = ((await created.json()) as { id: string }).id;
    const image = await call("POST", "/sandbox-images", {
      body: { name: "App", image: "127.0.0.1:5000/team/app", registry_id: registryId },
    });
    expect(image.status).toBe(201);
    const imageId = ((await image.json()) as { id: string }).id;
    const missing = randomUUID();
    ids.push(registryId, imageId, missing);

    expect((await call("GET", `/registries/${registryId}`)).status).toBe(200);
    expect((await call("GET", `/registries/${missing}`)).status).toBe(404);
    expect((await call("GET", `/no-such-route/${missing}`)).status).toBe(404);
    expect((await call("GET", `/registries/${registryId}`, { auth: false })).status).toBe(401);
    expect((await call("POST", `/registries/${registryId}/verify`)).status).toBe(200);
    // The first token is a workspace token: pull credentials are refused, and audited.
    expect((await call("POST", `/sandbox-images/${imageId}/pull-credentials`)).status).toBe(403);

    const scrape = await fetch(metricsUrl);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    scraped = await scrape.text();
  });
  afterAll(async () => {
    if (server) await server.stop();
    await killStartedProcesses();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("listens on its own port, on 127.0.0.1 by default", () => {
    expect(new URL(metricsUrl).hostname).toBe("127.0.0.1");
    expect(new URL(metricsUrl).port).not.toBe(new URL(server.url).port);
  });

  it("is not served on the API port: /metrics is an unknown path there", async () => {
    const anonymous = await call("GET", "/metrics", { auth: false });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("# TYPE");
    const authenticated = await call("GET", "/metrics");
    expect(authenticated.status).toBe(404);
    expect(await authenticated.text()).not.toContain("# TYPE");
  });

  it("has every family: requests, pull credentials, verifications, the pool, encryptions, the process", () => {
    for (const family of [
      "http_request_duration_seconds histogram",
      "modbox_pull_credentials_total counter",
      "modbox_registry_verifications_total counter",
      "modbox_db_pool_size gauge",
      "modbox_db_pool_in_use gauge",
      "modbox_db_pool_waiting gauge",
      "modbox_db_pool_waits_total counter",
      "modbox_encryptions_total counter",
      "modbox_encryption_key_reserved_encryptions gauge",
      "process_cpu_user_seconds_total counter",
      "process_resident_memory_bytes gauge",
      "nodejs_eventloop_lag_seconds gauge",
    ]) {
      expect(scraped).toContain(`# TYPE ${family}`);
    }
    expect(scraped).toContain('http_request_duration_seconds_count{method="GET",route="/registries/{registry_id}",status="200"} 1');
    expect(scraped).toContain('http_request_duration_seconds_count{method="GET",route="/registries/{registry_id}",status="404"} 1');
    expect(scraped).toContain('http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1');
    expect(scraped).toContain('http_request_duration_seconds_count{method="GET",route="unmatched",status="401"} 1');
    expect(scraped).toContain('modbox_pull_credentials_total{outcome="insufficient_scope"} 1');
    expect(scraped).toContain('modbox_registry_verifications_total{status="failed",error_code="address_not_allowed"} 1');
    // The embedded database is one session.
    expect(scraped).toContain("modbox_db_pool_size 1");
    expect(scraped).toMatch(/^modbox_encryptions_total\{key_id="[A-Za-z0-9_-]+"\} \d+$/m);
  });

  it("labels routes with the contract's templates only", () => {
    const routes = new Set([...scraped.matchAll(/route="([^"]*)"/g)].map((m) => m[1]!));
    expect(routes.size).toBeGreaterThan(3);
    for (const route of routes) expect(route === "unmatched" || CONTRACT_PATHS.has(route)).toBe(true);
  });

  it("holds no id, name, password or token", () => {
    for (const secret of [canaryName, canaryPassword, token, workspace, ...ids]) expect(scraped).not.toContain(secret);
    expect(scraped).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    expect(scraped).not.toContain("mbx_");
  });

  it("stops listening on SIGTERM, with the API", async () => {
    expect(await server.stop()).toBe(0);
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });
});

describe("start-up refuses a metrics listener it cannot have", () => {
  it("on the API's port", async () => {
    const { code, stderr } = await runToExit("server", [], { PORT: "18080", MODBOX_METRICS_PORT: "18080" });
    expect(code).toBe(1);
    expect(stderr).toContain("MODBOX_METRICS_PORT: must differ from PORT");
  });

  it("on a port already taken, before the API listens", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as { port: number };
    const dir = await mkdtemp(join(tmpdir(), "modbox-metrics-e2e-"));
    try {
      const { code, stdout } = await runToExit("server", [], { MODBOX_DATA_DIR: dir, MODBOX_METRICS_PORT: String(port) });
      expect(code).toBe(1);
      expect(stdout).toContain('"name":"MetricsListenError"');
      expect(stdout).toContain('"code":"EADDRINUSE"');
      expect(stdout).not.toContain("modbox registries server listening");
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
