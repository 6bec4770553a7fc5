import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { healthRoutes, READY_PING_TIMEOUT_MS } from "./health.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(ping: () => Promise<void>, pingTimeoutMs?: number): Promise<string> {
  const app = express();
  app.use(healthRoutes({ ping, isShuttingDown: () => false }, pingTimeoutMs === undefined ? {} : { pingTimeoutMs }));
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(() => resolve(undefined)));
  };
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("/readyz", () => {
  it("waits 2 s at most by default", () => {
    expect(READY_PING_TIMEOUT_MS).toBe(2000);
  });

  it("answers 503 when the database does not answer in time, instead of hanging", async () => {
    const url = await serve(() => new Promise(() => {}), 150);
    const startedAt = Date.now();
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await response.json()).toMatchObject({ code: "service_unavailable", detail: "The database did not answer within 150 ms." });
    expect(Date.now() - startedAt).toBeLessThan(2000);
  });

  it("is ready when the ping answers in time, and not when it fails (even after the timeout)", async () => {
    const url = await serve(async () => {}, 150);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await close!();
    const late = await serve(() => new Promise((_, reject) => setTimeout(() => reject(new Error("late")), 300)), 100);
    expect((await fetch(`${late}/readyz`)).status).toBe(503);
    // The late rejection lands after the answer: it must not surface as an unhandled rejection.
    await new Promise((r) => setTimeout(r, 400));
  });
});
