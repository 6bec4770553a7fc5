import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express, { type Request } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { httpMetrics, methodLabel, routeLabel, UNMATCHED_ROUTE } from "./http-metrics.js";
import { createMetrics } from "./registry.js";

const request = (fields: object) => fields as Request;

describe("routeLabel", () => {
  it("is the contract's template when the validator matched the request", () => {
    const req = request({
      openapi: { openApiRoute: "/registries/{registry_id}" },
      route: { path: "/registries/:registry_id" },
      originalUrl: "/registries/0199a1b2-0000-7000-8000-000000000001",
    });
    expect(routeLabel(req)).toBe("/registries/{registry_id}");
  });

  it("is the Express route's path for a public route answered before the validator", () => {
    expect(routeLabel(request({ route: { path: "/healthz" }, originalUrl: "/healthz?x=1" }))).toBe("/healthz");
  });

  it("is `unmatched` for anything else, never the path requested", () => {
    expect(routeLabel(request({ originalUrl: "/registries/0199a1b2-0000-7000-8000-000000000001" }))).toBe(UNMATCHED_ROUTE);
    expect(routeLabel(request({ route: { path: /regex/ }, originalUrl: "/x" }))).toBe(UNMATCHED_ROUTE);
  });

  it("folds methods outside the usual ones into `other`", () => {
    expect(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].map(methodLabel)).toEqual([
      "GET",
      "HEAD",
      "POST",
      "PUT",
      "DELETE",
      "PATCH",
      "OPTIONS",
    ]);
    expect(methodLabel("PROPFIND")).toBe("other");
  });
});

describe("httpMetrics", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("observes each answered request once, by method, route template and status", async () => {
    const metrics = createMetrics({ dbPoolSize: 1 });
    const app = express();
    app.use(httpMetrics(metrics.httpRequestDuration));
    app.get("/healthz", (_req, res) => res.send("ok"));
    app.get("/things/:thing_id", (_req, res) => res.status(404).send("no"));
    app.use((_req, res) => res.status(401).send("who?"));
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    close = () => new Promise((resolve) => server.close(() => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    await fetch(`${url}/healthz`);
    await fetch(`${url}/healthz`, { method: "HEAD" });
    for (let i = 0; i < 20; i++) await fetch(`${url}/things/${crypto.randomUUID()}`);
    for (let i = 0; i < 5; i++) await fetch(`${url}/secret-path-${i}`);

    const counts = (await metrics.registry.getMetricsAsJSON())
      .find((m) => m.name === "http_request_duration_seconds")!
      .values.filter((v) => (v as { metricName?: string }).metricName === "http_request_duration_seconds_count")
      .map((v) => ({ ...v.labels, count: v.value }));
    expect(counts).toEqual(
      expect.arrayContaining([
        { method: "GET", route: "/healthz", status: "200", count: 1 },
        { method: "HEAD", route: "/healthz", status: "200", count: 1 },
        { method: "GET", route: "/things/:thing_id", status: "404", count: 20 },
        { method: "GET", route: UNMATCHED_ROUTE, status: "401", count: 5 },
      ]),
    );
    expect(counts).toHaveLength(4);
    expect(await metrics.registry.metrics()).not.toMatch(/secret-path|[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});
