import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { describeListenFailure, ListenError, listenFirst, type BoundServer } from "./listen.js";

let bound: BoundServer | undefined;
let blocker: Server | undefined;
afterEach(async () => {
  bound?.server.closeAllConnections();
  await new Promise<void>((resolve) => (bound ? bound.server.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  bound = undefined;
  blocker = undefined;
});

describe("listenFirst", () => {
  it("answers for itself until the app is attached: /healthz 200, /readyz and the API 503 problem+json", async () => {
    bound = await listenFirst("127.0.0.1", 0);
    expect(bound.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const health = await fetch(`${bound.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const ready = await fetch(`${bound.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(ready.headers.get("retry-after")).toBe("1");
    expect(await ready.json()).toMatchObject({ status: 503, code: "service_unavailable", detail: "The server is starting.", instance: "/readyz" });

    const api = await fetch(`${bound.url}/registries?limit=1`, { method: "POST", headers: { authorization: "Bearer mbx_x" }, body: "{}" });
    expect(api.status).toBe(503);
    const problem = (await api.json()) as Record<string, unknown>;
    expect(problem).toEqual({
      type: "https://modbox.dev/problems/service_unavailable",
      title: "Service unavailable",
      status: 503,
      detail: "The server is starting; retry shortly.",
      instance: "/registries",
      code: "service_unavailable",
      request_id: api.headers.get("x-request-id"),
    });

    bound.attach((_req, res) => res.end("the app"));
    expect(await (await fetch(`${bound.url}/registries`)).text()).toBe("the app");
  });

  it("a taken port is a ListenError naming the address, the port and the cause", async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    const failure = await listenFirst("127.0.0.1", port).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ListenError);
    expect((failure as Error).message).toBe(
      `cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE). Stop what listens there, or set PORT to a free port. Nothing was started or written.`,
    );
  });

  it("a HOST that is not this machine's", async () => {
    // 192.0.2.0/24 is TEST-NET-1: never an address of this machine; nothing is sent anywhere.
    const failure = await listenFirst("192.0.2.1", 0).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ListenError);
    expect((failure as Error).message).toContain("cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)");
  });

  it("words for the other causes", () => {
    expect(describeListenFailure({ code: "EACCES" }, "0.0.0.0", 80)).toContain("cannot listen on 0.0.0.0:80: permission denied (EACCES)");
    expect(describeListenFailure({ code: "ENOTFOUND" }, "no.such.host", 8080)).toContain("HOST no.such.host does not resolve (ENOTFOUND)");
    expect(describeListenFailure({ code: "EADDRINUSE" }, "::1", 8080)).toContain("cannot listen on [::1]:8080");
    expect(describeListenFailure({}, "127.0.0.1", 8080)).toBe("cannot listen on 127.0.0.1:8080. Nothing was started or written.");
  });
});
