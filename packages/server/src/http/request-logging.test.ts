import { EventEmitter, once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express, { type Request, type Response } from "express";
import { afterEach, describe, expect, it, vi } from "vitest";
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
  app.get("/status/:code", (req, res) => void res.status(Number(req.params.code)).json({}));
  // What the error handler leaves for the log: a safe view of what went wrong.
  app.get("/refused", (_req, res) => {
    (res as { err?: unknown }).err = Object.assign(new Error("safe summary"), { name: "SafeError" });
    res.status(400).json({});
  });
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

type Line = { level: number; msg: string; req?: { id?: string; path?: string }; res?: { statusCode?: number }; err?: { message?: string }; responseTime?: number };
const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line);

describe("requestLogging: levels and messages", () => {
  it("at info: an answer below 500 is info, one from 500 on is error", async () => {
    const { get, lines } = await serve("info");
    for (const path of ["/status/200", "/status/499", "/status/500", "/status/503"]) await get(path);
    expect(parsed(lines).map((l) => [l.res?.statusCode, l.level, l.msg])).toEqual([
      [200, 30, "request completed"],
      [499, 30, "request completed"],
      [500, 50, "request errored"],
      [503, 50, "request errored"],
    ]);
  });

  it("above info: a failure below 500 is logged when it carries an error, saying it errored", async () => {
    const { get, lines } = await serve("error");
    for (const path of ["/status/200", "/status/499", "/status/500", "/refused"]) await get(path, { "x-request-id": "trace-9" });
    const [failed, refused, ...rest] = parsed(lines);
    expect(rest).toEqual([]);
    expect(failed).toMatchObject({ level: 50, msg: "request completed", req: { id: "trace-9", path: "/status/500" }, res: { statusCode: 500 } });
    expect(failed).not.toHaveProperty("err");
    expect(refused).toMatchObject({ level: 50, msg: "request errored", res: { statusCode: 400 }, err: { message: "safe summary" } });
    expect(typeof failed?.responseTime).toBe("number");
    expect(failed?.responseTime).toBeGreaterThanOrEqual(0);
  });

  it("at fatal logs no request, and still gives each one an id", async () => {
    const { get, lines } = await serve("fatal");
    expect((await get("/refused", { "x-request-id": "trace-1" })).headers.get("x-request-id")).toBe("trace-1");
    await get("/status/500");
    expect(lines).toEqual([]);
  });
});


/** The middleware alone, on an answer that is only an event emitter: what it leaves on `res` and logs. */
function middlewareAlone(level: string, headers: Record<string, string> = {}) {
  const lines: string[] = [];
  const res = Object.assign(new EventEmitter(), { statusCode: 200, setHeader: () => undefined });
  let nexts = 0;
  const req = { headers, method: "GET", originalUrl: "/things?q=1" };
  requestLogging(createLogger(level, { write: (line: string) => void lines.push(line) }))(req as unknown as Request, res as unknown as Response, () => void nexts++);
  return { res, lines, nexts: () => nexts };
}

describe("requestLogging: above info, without pino-http", () => {
  it("at fatal or silent leaves no listener on the answer (a request costs nothing to log); at error, one", () => {
    expect(middlewareAlone("fatal").res.listenerCount("finish")).toBe(0);
    expect(middlewareAlone("silent").res.listenerCount("finish")).toBe(0);
    expect(middlewareAlone("error").res.listenerCount("finish")).toBe(1);
    expect(middlewareAlone("fatal").nexts()).toBe(1);
  });

  it("logs the time from the request to the answer, in whole milliseconds", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      vi.advanceTimersByTime(5_000);
      const { res, lines } = middlewareAlone("error", { "x-request-id": "trace-7" });
      vi.advanceTimersByTime(42);
      res.statusCode = 503;
      res.emit("finish");
      expect(parsed(lines)).toEqual([
        expect.objectContaining({ level: 50, msg: "request completed", req: { id: "trace-7", method: "GET", path: "/things" }, res: { statusCode: 503 }, responseTime: 42 }),
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});
