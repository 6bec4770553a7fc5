import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../logging.js";
import { ShutdownSignals } from "./shutdown-signals.js";

/** ShutdownSignals on a private emitter, with an exit that records instead of exiting. */
function harness() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const lines: string[] = [];
  const logger = createLogger(
    "info",
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().trim().split("\n"));
        done();
      },
    }),
  );
  // The real exit never returns; this one records the code and returns (the class returns right
  // after every exit, so nothing runs on as if it had not been called).
  const exit = ((code: number) => void exits.push(code)) as (code: number) => never;
  const signals = new ShutdownSignals(exit, (signal, handler) => emitter.on(signal, handler));
  const send = (signal: "SIGTERM" | "SIGINT") => emitter.emit(signal);
  const messages = () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  return { signals, send, exits, logger, messages };
}

function closable() {
  let resolveClose!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClose = resolve));
  return { close: vi.fn(() => closed), finishClose: () => resolveClose() };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ShutdownSignals", () => {
  it("stops a running server on SIGTERM and exits 0 once it has closed", async () => {
    const { signals, send, exits, logger, messages } = harness();
    signals.starting(logger, 10_000);
    const server = closable();
    signals.started(server, logger);
    send("SIGTERM");
    expect(server.close).toHaveBeenCalledOnce();
    expect(exits).toEqual([]);
    server.finishClose();
    await vi.waitFor(() => expect(exits).toEqual([0]));
    expect(messages()).toContain("shutting down");
  });

  it("remembers a signal that came while starting and stops the server the moment it is up", async () => {
    const { signals, send, exits, logger, messages } = harness();
    signals.starting(logger, 10_000);
    send("SIGTERM");
    expect(exits).toEqual([]);
    expect(messages()).toContain("signal received while starting: stopping as soon as the server is up");
    const server = closable();
    signals.started(server, logger);
    expect(server.close).toHaveBeenCalledOnce();
    server.finishClose();
    await vi.waitFor(() => expect(exits).toEqual([0]));
  });

  it("remembers a signal that came before the logger existed", async () => {
    const { signals, send, exits, logger, messages } = harness();
    send("SIGINT");
    signals.starting(logger, 10_000);
    expect(messages()).toContain("signal received while starting: stopping as soon as the server is up");
    const server = closable();
    signals.started(server, logger);
    server.finishClose();
    await vi.waitFor(() => expect(exits).toEqual([0]));
  });

  it("exits 1 when the start is still not done after the shutdown timeout", () => {
    vi.useFakeTimers();
    const { signals, send, exits, logger, messages } = harness();
    signals.starting(logger, 5_000);
    send("SIGTERM");
    vi.advanceTimersByTime(4_999);
    expect(exits).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(exits).toEqual([1]);
    expect(messages()).toContain("still starting after the shutdown timeout: exiting");
  });

  it("does not let the start timeout cut short a drain that began once the server was up", () => {
    vi.useFakeTimers();
    const { signals, send, exits, logger } = harness();
    signals.starting(logger, 5_000);
    send("SIGTERM");
    vi.advanceTimersByTime(4_000);
    signals.started(closable(), logger);
    vi.advanceTimersByTime(60_000);
    expect(exits).toEqual([]);
  });

  it("exits at once with 128 + the signal's number on a second signal", () => {
    const { signals, send, exits, logger, messages } = harness();
    signals.starting(logger, 10_000);
    const server = closable();
    signals.started(server, logger);
    send("SIGTERM");
    send("SIGINT");
    expect(exits).toEqual([130]);
    expect(server.close).toHaveBeenCalledOnce();
    expect(messages()).toContain("second signal: exiting without waiting");
  });

  it("exits 1 when closing fails", async () => {
    const { signals, send, exits, logger, messages } = harness();
    signals.starting(logger, 10_000);
    signals.started({ close: () => Promise.reject(new Error("database gone")) }, logger);
    send("SIGTERM");
    await vi.waitFor(() => expect(exits).toEqual([1]));
    expect(messages()).toContain("shutdown failed");
  });
});
