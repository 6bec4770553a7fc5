import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../logging.js";
import { requestLogging } from "./request-logging.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(level: string) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const app = express();
  app.use(requestLogging(createLogger(level, sink)));
  app.get("/ok", (_req, res) => void res.json({ ok: true }));
  app.get("/fail", (_req, res) => void res.status(500).json({ ok: false }));
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  close = () => new Promise((resolve) => server.close(() => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(url + path, { headers });
    await response.text();
    await new Promise((r) => setTimeout(r, 20));
    return response;
  };
  return { get, lines };
}

describe("requestLogging", () => {
  it.each(["info", "warn"])("at %s keeps a caller's request id and makes one otherwise", async (level) => {
    const { get } = await serve(level);
    expect((await get("/ok", { "x-request-id": "trace-123" })).headers.get("x-request-id")).toBe("trace-123");
    expect((await get("/ok")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("at info logs every request", async () => {
    const { get, lines } = await serve("info");
    await get("/ok");
    await get("/fail");
    expect(lines.map((l) => JSON.parse(l).res?.statusCode)).toEqual([200, 500]);
  });

  it("above info logs failures only, in the same shape, without headers", async () => {
    const { get, lines } = await serve("warn");
    await get("/ok", { authorization: "Bearer mbx_should_never_be_logged" });
    await get("/fail?secret=x", { authorization: "Bearer mbx_should_never_be_logged" });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ level: 50, req: { method: "GET", path: "/fail" }, res: { statusCode: 500 } });
    expect(lines[0]).not.toContain("mbx_should_never_be_logged");
    expect(lines[0]).not.toContain("secret=x");
  });

  it("at silent logs nothing", async () => {
    const { get, lines } = await serve("silent");
    await get("/fail");
    expect(lines).toEqual([]);
  });
});
