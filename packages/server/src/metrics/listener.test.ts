import { createServer } from "node:net";
import { Agent, request } from "node:http";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { MetricsListenError, startMetricsListener } from "./listener.js";

function registryWithOneCounter(): Registry {
  const registry = new Registry();
  new Counter({ name: "things_total", help: "Things.", registers: [registry] }).inc(3);
  return registry;
}

describe("startMetricsListener", () => {
  it("serves the Prometheus text at /metrics only, GET and HEAD only", async () => {
    const listener = await startMetricsListener(registryWithOneCounter(), { host: "127.0.0.1", port: 0, onError: () => {} });
    try {
      expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const scraped = await fetch(listener.url);
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await scraped.text()).toContain("things_total 3");

      const head = await fetch(listener.url, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe("");
      expect((await fetch(`${listener.url}?name[]=things_total`)).status).toBe(200);

      const base = listener.url.replace(/\/metrics$/, "");
      for (const path of ["/", "/metrics/", "/registries", "/healthz"]) expect((await fetch(base + path)).status).toBe(404);
      const post = await fetch(listener.url, { method: "POST" });
      expect(post.status).toBe(405);
      expect(post.headers.get("allow")).toBe("GET, HEAD");
    } finally {
      await listener.close();
    }
  });

  it("answers 500 and reports the error when collecting fails", async () => {
    const registry = new Registry();
    new Counter({
      name: "broken_total",
      help: "Fails to collect.",
      registers: [registry],
      collect() {
        throw new Error("collector failed");
      },
    });
    const errors: unknown[] = [];
    const listener = await startMetricsListener(registry, { host: "127.0.0.1", port: 0, onError: (err) => errors.push(err) });
    try {
      const res = await fetch(listener.url);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain("collector failed");
      expect(errors).toHaveLength(1);
    } finally {
      await listener.close();
    }
  });

  it("closes kept-alive scrape connections on close()", async () => {
    const listener = await startMetricsListener(registryWithOneCounter(), { host: "127.0.0.1", port: 0, onError: () => {} });
    // A keep-alive connection, as Prometheus keeps between scrapes.
    await new Promise<void>((resolve, reject) => {
      request(listener.url, { agent: new Agent({ keepAlive: true }) }, (res) => {
        res.resume();
        res.on("end", resolve);
      })
        .on("error", reject)
        .end();
    });
    const started = Date.now();
    await listener.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(fetch(listener.url)).rejects.toThrow();
  });

  it("refuses to start on a port already taken", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as { port: number };
    try {
      const err = await startMetricsListener(new Registry(), { host: "127.0.0.1", port, onError: () => {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MetricsListenError);
      expect(err).toMatchObject({ code: "EADDRINUSE", name: "MetricsListenError" });
      expect((err as Error).message).toBe(
        `Cannot listen for metrics on 127.0.0.1:${port} (MODBOX_METRICS_HOST, MODBOX_METRICS_PORT): EADDRINUSE.`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
