import { describe, expect, it, vi } from "vitest";
import { createMetrics } from "./registry.js";

/** The samples of one family in the Prometheus text, as `labels value` lines. */
function samples(text: string, name: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => line.slice(name.length));
}

describe("createMetrics", () => {
  it("registers Node's process metrics and every family, on a registry of its own", async () => {
    const a = createMetrics({ dbPoolSize: 10 });
    const b = createMetrics({ dbPoolSize: 10 }); // a second server in the same process
    const text = await a.registry.metrics();
    for (const family of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "http_request_duration_seconds",
      "modbox_pull_credentials_total",
      "modbox_registry_verifications_total",
      "modbox_db_pool_size",
      "modbox_db_pool_in_use",
      "modbox_db_pool_waiting",
      "modbox_db_pool_waits_total",
      "modbox_encryptions_total",
      "modbox_encryption_key_reserved_encryptions",
    ]) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    expect(await b.registry.metrics()).toContain("# TYPE modbox_pull_credentials_total counter");
  });

  it("starts every outcome and every verification pair at 0", async () => {
    const text = await createMetrics({ dbPoolSize: 1 }).registry.metrics();
    expect(samples(text, "modbox_pull_credentials_total")).toEqual(
      expect.arrayContaining(['{outcome="issued"} 0', '{outcome="not_found"} 0', '{outcome="credential_undecryptable"} 0']),
    );
    expect(samples(text, "modbox_registry_verifications_total")).toEqual(
      expect.arrayContaining([
        '{status="verified",error_code="none"} 0',
        '{status="unverified",error_code="anonymous_registry"} 0',
        '{status="failed",error_code="invalid_credentials"} 0',
      ]),
    );
  });

  it("counts outcomes, verifications and request durations", async () => {
    const metrics = createMetrics({ dbPoolSize: 1 });
    metrics.pullCredentials("issued");
    metrics.pullCredentials("issued");
    metrics.pullCredentials("registry_deleted");
    metrics.verification({ status: "failed", code: "registry_unreachable", detail: "connection refused by 10.0.0.7" });
    metrics.httpRequestDuration.observe({ method: "GET", route: "/registries/{registry_id}", status: "200" }, 0.003);
    const text = await metrics.registry.metrics();
    expect(samples(text, "modbox_pull_credentials_total")).toEqual(
      expect.arrayContaining(['{outcome="issued"} 2', '{outcome="registry_deleted"} 1']),
    );
    expect(samples(text, "modbox_registry_verifications_total")).toContain('{status="failed",error_code="registry_unreachable"} 1');
    expect(text).not.toContain("10.0.0.7");
    expect(samples(text, "http_request_duration_seconds_bucket")).toEqual(
      expect.arrayContaining([
        '{le="0.0025",method="GET",route="/registries/{registry_id}",status="200"} 0',
        '{le="0.005",method="GET",route="/registries/{registry_id}",status="200"} 1',
      ]),
    );
  });

  it("reads the pool's use at each scrape", async () => {
    const metrics = createMetrics({ dbPoolSize: 2 });
    const done = [metrics.pool.start(), metrics.pool.start(), metrics.pool.start()];
    let text = await metrics.registry.metrics();
    expect(samples(text, "modbox_db_pool_size")).toEqual([" 2"]);
    expect(samples(text, "modbox_db_pool_in_use")).toEqual([" 2"]);
    expect(samples(text, "modbox_db_pool_waiting")).toEqual([" 1"]);
    expect(samples(text, "modbox_db_pool_waits_total")).toEqual([" 1"]);
    for (const d of done) d();
    text = await metrics.registry.metrics();
    expect(samples(text, "modbox_db_pool_in_use")).toEqual([" 0"]);
    expect(samples(text, "modbox_db_pool_waits_total")).toEqual([" 1"]);
  });

  it("reports encryptions per key id: this process's, and the budget reserved in the database", async () => {
    const metrics = createMetrics({ dbPoolSize: 1 });
    let text = await metrics.registry.metrics();
    expect(samples(text, "modbox_encryptions_total")).toEqual([]);

    const counts: Record<string, number> = { k2026a: 1, k2026b: 3 };
    const list = vi.fn(async () => [
      { keyId: "k2026a", encryptionsReserved: 1025 },
      { keyId: "k2026b", encryptionsReserved: 2048 },
    ]);
    const onError = vi.fn();
    metrics.watchEncryptions({ encryptionCounts: () => ({ ...counts }) }, { list }, onError);
    text = await metrics.registry.metrics();
    expect(samples(text, "modbox_encryptions_total")).toEqual(['{key_id="k2026a"} 1', '{key_id="k2026b"} 3']);
    expect(samples(text, "modbox_encryption_key_reserved_encryptions")).toEqual(['{key_id="k2026a"} 1025', '{key_id="k2026b"} 2048']);

    counts.k2026b = 4;
    list.mockRejectedValueOnce(new Error("connection refused"));
    text = await metrics.registry.metrics();
    expect(samples(text, "modbox_encryptions_total")).toContain('{key_id="k2026b"} 4');
    // The scrape still answers, without the family it could not read.
    expect(samples(text, "modbox_encryption_key_reserved_encryptions")).toEqual([]);
    expect(onError).toHaveBeenCalledOnce();
  });
});
