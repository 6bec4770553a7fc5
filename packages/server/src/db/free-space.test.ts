import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express from "express";
import { afterEach, describe, expect, it, vi } from "vitest";
import { refuseWritesWhenDiskLow } from "../http/disk-guard.js";
import { createLogger } from "../logging.js";
import { createFreeSpaceMonitor, diskFullAtStart, DiskFullError } from "./free-space.js";

const MIB = 1024 * 1024;

function logged() {
  const lines: string[] = [];
  const logger = createLogger(
    "info",
    new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  return { logger, lines };
}

describe("createFreeSpaceMonitor", () => {
  it("asks statfs at most once per interval, and says when writes stop and start again", async () => {
    let clock = 0;
    let free = 100 * MIB;
    const freeBytes = vi.fn(async () => free);
    const { logger, lines } = logged();
    const monitor = createFreeSpaceMonitor({ dir: "/data", minFreeBytes: 64 * MIB, logger, now: () => clock, freeBytes });

    expect(await monitor.hasRoom()).toBe(true);
    free = 10 * MIB;
    clock = 999;
    // Cached: no statfs, the old answer, synchronously.
    expect(monitor.hasRoom()).toBe(true);
    expect(freeBytes).toHaveBeenCalledTimes(1);

    clock = 1000;
    expect(await monitor.hasRoom()).toBe(false);
    expect(monitor.hasRoom()).toBe(false);
    expect(freeBytes).toHaveBeenCalledTimes(2);
    expect(lines.join("")).toContain("refusing writes");

    free = 80 * MIB;
    clock = 2000;
    expect(await monitor.hasRoom()).toBe(true);
    expect(lines.join("")).toContain("accepting writes again");
  });

  it("shares one statfs between the requests that find the cache stale", async () => {
    let release: (n: number) => void = () => {};
    const freeBytes = vi.fn(() => new Promise<number>((resolve) => (release = resolve)));
    const monitor = createFreeSpaceMonitor({ dir: "/data", minFreeBytes: MIB, logger: logged().logger, freeBytes });
    const answers = [monitor.hasRoom(), monitor.hasRoom(), monitor.hasRoom()];
    release(2 * MIB);
    expect(await Promise.all(answers)).toEqual([true, true, true]);
    expect(freeBytes).toHaveBeenCalledTimes(1);
  });

  it("never blocks writes because statfs failed (it logs once)", async () => {
    const freeBytes = vi.fn(async () => {
      throw Object.assign(new Error("gone"), { code: "ENOENT" });
    });
    let clock = 0;
    const { logger, lines } = logged();
    const monitor = createFreeSpaceMonitor({ dir: "/data", minFreeBytes: MIB, logger, now: () => clock, freeBytes });
    expect(await monitor.hasRoom()).toBe(true);
    clock = 5000;
    expect(await monitor.hasRoom()).toBe(true);
    expect(lines.filter((l) => l.includes("cannot read the free space"))).toHaveLength(1);
  });
});

describe("refuseWritesWhenDiskLow", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("answers writes 503 with Retry-After while the disk is low, and lets reads through", async () => {
    let room: boolean | Promise<boolean> = false;
    const app = express();
    app.use(refuseWritesWhenDiskLow({ dir: "/d", minFreeBytes: MIB, hasRoom: () => room }));
    app.all("/x", (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    close = () => new Promise((resolve) => server.close(() => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;

    expect((await fetch(url)).status).toBe(200);
    for (const method of ["POST", "PUT", "DELETE"]) {
      const refused = await fetch(url, { method });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("30");
      expect(await refused.json()).toMatchObject({ code: "service_unavailable", detail: expect.stringMatching(/storage is full/) });
    }
    room = Promise.resolve(true);
    expect((await fetch(url, { method: "POST" })).status).toBe(200);
    room = true;
    expect((await fetch(url, { method: "PUT" })).status).toBe(200);
  });
});

describe("diskFullAtStart", () => {
  it("explains a start that failed on ENOSPC, naming the directory", () => {
    const err = diskFullAtStart(Object.assign(new Error("ENOSPC"), { code: "ENOSPC" }), "/nonexistent/modbox", 64 * MIB);
    expect(err).toBeInstanceOf(DiskFullError);
    expect(err!.message).toMatch(/^the disk under \/nonexistent\/modbox is full: the embedded database cannot start\./);
  });

  it("leaves other failures alone when there is room (or no way to tell)", () => {
    expect(diskFullAtStart(new Error("something else"), "/nonexistent/modbox", 64 * MIB)).toBeUndefined();
    expect(diskFullAtStart(new Error("something else"), process.cwd(), 0)).toBeUndefined();
  });
});
