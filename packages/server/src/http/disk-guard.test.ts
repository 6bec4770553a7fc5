import type { Request, Response } from "express";
import { describe, expect, it } from "vitest";
import type { FreeSpaceMonitor } from "../db/free-space.js";
import { DISK_FULL_DETAIL, refuseWritesWhenDiskLow } from "./disk-guard.js";

/** What the guard did with one request: passed on (with what), or answered. */
async function guard(method: string, room: boolean | Promise<boolean>) {
  let asked = 0;
  const monitor: FreeSpaceMonitor = {
    dir: "/data",
    minFreeBytes: 1,
    hasRoom: () => {
      asked++;
      return room;
    },
  };
  const out = { status: 0, headers: {} as Record<string, string>, body: undefined as Record<string, unknown> | undefined, passed: [] as unknown[][] };
  const res = {
    setHeader(name: string, value: string) {
      out.headers[name.toLowerCase()] = value;
      return res;
    },
    getHeader: (name: string) => out.headers[name.toLowerCase()],
    status(code: number) {
      out.status = code;
      return res;
    },
    type: () => res,
    send(text: string) {
      out.body = JSON.parse(text) as Record<string, unknown>;
      return res;
    },
  } as unknown as Response;
  refuseWritesWhenDiskLow(monitor)({ method, originalUrl: "/registries" } as Request, res, (...args: unknown[]) => void out.passed.push(args));
  await Promise.resolve(room).catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  return { ...out, asked };
}

describe("refuseWritesWhenDiskLow", () => {
  it.each(["GET", "HEAD", "OPTIONS"])("lets a %s through without asking about the disk", async (method) => {
    const { passed, asked } = await guard(method, false);
    expect(passed).toEqual([[]]);
    expect(asked).toBe(0);
  });

  it.each(["POST", "PUT", "PATCH", "DELETE"])("refuses a %s when the disk is low: 503, retry in 30 s", async (method) => {
    const { passed, status, headers, body } = await guard(method, false);
    expect(passed).toEqual([]);
    expect(status).toBe(503);
    expect(headers["retry-after"]).toBe("30");
    expect(body).toMatchObject({ code: "service_unavailable", detail: DISK_FULL_DETAIL });
    expect(DISK_FULL_DETAIL).toBe("The server's storage is full, so nothing was written; reads still work. Retry after an operator has freed space.");
  });

  it("lets a write through when there is room, now or once the monitor has looked", async () => {
    expect((await guard("POST", true)).passed).toEqual([[]]);
    expect((await guard("POST", Promise.resolve(true))).passed).toEqual([[]]);
  });

  it("refuses a write once the monitor has looked and found no room", async () => {
    const { passed, status } = await guard("POST", Promise.resolve(false));
    expect(passed).toEqual([]);
    expect(status).toBe(503);
  });

  it("passes a failed look on as the request's error", async () => {
    const failure = new Error("statfs failed");
    const { passed, status } = await guard("POST", Promise.reject(failure));
    expect(passed).toEqual([[failure]]);
    expect(status).toBe(0);
  });
});
