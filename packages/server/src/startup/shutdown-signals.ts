/**
 * SIGTERM and SIGINT, from the first instruction of the process to its exit.
 *
 * Handlers installed only once the server is up leave a window (the embedded database's start
 * takes seconds) in which a signal takes its default action: the process dies half-way through
 * a migration or a first start. As a container's PID 1, Node has no default action at all, so
 * the signal would be ignored and the runtime would SIGKILL it later. Hence three phases:
 *
 *   - before the logger exists (reading the configuration: microseconds), a signal is remembered;
 *   - while starting, it is logged and the server is stopped the moment it is up. If the start
 *     is still not done after the shutdown timeout, the process exits 1 rather than hang on;
 *   - once started, the server stops accepting, drains, closes the database and exits 0.
 *
 * A second signal exits at once (128 + its number, as a shell reports it): the way out of a
 * drain an operator does not want to wait for.
 */
import { constants } from "node:os";
import type { Logger } from "pino";

type Signal = "SIGTERM" | "SIGINT";
type Listen = (signal: Signal, handler: () => void) => void;

interface Closable {
  close(): Promise<void>;
}

export class ShutdownSignals {
  private received: Signal | undefined;
  private logger: Logger | undefined;
  private server: Closable | undefined;
  private startTimeoutMs = 0;
  private startTimer: NodeJS.Timeout | undefined;

  /** Installs the handlers (`listen` and `exit` are the process's, but in tests). */
  constructor(
    private readonly exit: (code: number) => never = process.exit,
    listen: Listen = (signal, handler) => process.on(signal, handler),
  ) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) listen(signal, () => this.onSignal(signal));
  }

  /** The logger exists: a signal already received is reported, and bounded by the shutdown timeout. */
  starting(logger: Logger, shutdownTimeoutMs: number): void {
    this.logger = logger;
    this.startTimeoutMs = shutdownTimeoutMs;
    if (this.received) this.whileStarting(this.received);
  }

  /** The server is up: stop it now if a signal came while it was starting. */
  started(server: Closable, logger: Logger): void {
    this.logger = logger;
    this.server = server;
    clearTimeout(this.startTimer);
    if (this.received) this.stop(this.received);
  }

  private onSignal(signal: Signal): void {
    if (this.received) {
      if (this.logger) this.logger.warn({ signal }, "second signal: exiting without waiting");
      else process.stderr.write(`modbox: second ${signal}: exiting\n`);
      return this.exit(128 + constants.signals[signal]);
    }
    this.received = signal;
    if (this.server) this.stop(signal);
    else if (this.logger) this.whileStarting(signal);
  }

  private whileStarting(signal: Signal): void {
    this.logger!.info({ signal }, "signal received while starting: stopping as soon as the server is up");
    this.startTimer = setTimeout(() => {
      this.logger!.error({ signal, timeoutMs: this.startTimeoutMs }, "still starting after the shutdown timeout: exiting");
      this.exit(1);
    }, this.startTimeoutMs).unref();
  }

  private stop(signal: Signal): void {
    this.logger!.info({ signal }, "shutting down");
    this.server!.close()
      .then(() => this.exit(0))
      .catch((err: unknown) => {
        this.logger!.error({ err }, "shutdown failed");
        this.exit(1);
      });
  }
}
