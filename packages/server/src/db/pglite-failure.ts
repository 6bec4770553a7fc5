/**
 * PGlite after a PANIC: the database is gone for this process, and touching it again hangs it.
 *
 * Measured on PGlite 0.5.17 with its data directory on a full tmpfs: when PostgreSQL cannot create
 * the next 16 MiB write-ahead-log segment it raises PANIC (SQLSTATE 53100, "could not write to file
 * pg_wal/xlogtemp…: No space left on device", in XLogFileInitInternal). A real PostgreSQL would
 * crash and recover; PGlite returns the error to JavaScript and leaves its WASM runtime aborted. The
 * next statement sent to it (the `sync` PGlite itself sends after a failed statement, a ROLLBACK,
 * the next request, a readiness ping) never returns: PGlite's message loop retries the aborted
 * runtime forever, synchronously, so the event loop stops with it: /healthz hangs, SIGTERM is
 * never handled, freeing space does not help, and only SIGKILL ends the process.
 *
 * So the first PANIC or FATAL error seen here marks the database failed, and from then on every
 * call into the WASM runtime is refused with a DatabaseFailedError (classified like the failure:
 * disk full → 503) without entering it. The caller is told once, to shut the process down: a
 * restart replays the write-ahead log (what was acknowledged is kept; the statement that failed
 * never committed).
 *
 * This wraps three methods of the PGlite instance (execProtocol, execProtocolStream: where its
 * errors surface; execProtocolRawSync: the one entry into the WASM message loop). Should an upgrade
 * remove them, opening the database fails with a message saying so, rather than running without
 * the guard (test/e2e/disk-full.test.ts fills a real disk under a real server).
 */
import type { PGlite } from "@electric-sql/pglite";
import { diskFullMessage } from "./free-space.js";

/** What stopped the embedded database. Codes and names only: never the driver's message. */
export interface PgliteFailure {
  /** PANIC or FATAL from PostgreSQL; ABORTED when the WASM runtime threw on its own. */
  severity: "PANIC" | "FATAL" | "ABORTED";
  /** The SQLSTATE of the error, when PostgreSQL reported one (53100: the disk is full). */
  sqlstate?: string;
  /** The PostgreSQL C function that raised it (e.g. XLogFileInitInternal), when reported. */
  routine?: string;
}

/**
 * Every query on a failed embedded database. Its `code` makes it classify like the failure: a full
 * disk (53100) answers as a full disk, anything else as 57P02 crash_shutdown (unavailable).
 */
export class DatabaseFailedError extends Error {
  override name = "DatabaseFailedError";
  readonly code: string;
  constructor(readonly failure: PgliteFailure) {
    super(`the embedded database stopped after a ${failure.severity}; this process must restart`);
    this.code = failure.sqlstate?.startsWith("53") ? failure.sqlstate : "57P02";
  }
}

const UNRECOVERABLE_SEVERITIES = new Set(["PANIC", "FATAL"]);

type Guarded = Pick<PGlite, "execProtocol" | "execProtocolStream" | "execProtocolRawSync">;

/**
 * Installs the guard on an open PGlite instance. `onFailure` is called once, on the first
 * unrecoverable error, after the failing call has been refused its retries.
 */
export function stopAtFirstUnrecoverableError(
  client: PGlite,
  onFailure: (failure: PgliteFailure) => void,
): { failure(): PgliteFailure | undefined } {
  const target = client as Guarded;
  const { execProtocol, execProtocolStream, execProtocolRawSync } = target;
  if (typeof execProtocol !== "function" || typeof execProtocolStream !== "function" || typeof execProtocolRawSync !== "function") {
    throw new Error(
      "PGlite no longer has execProtocol, execProtocolStream and execProtocolRawSync: update src/db/pglite-failure.ts " +
        "so a PANIC cannot hang the process",
    );
  }
  let failure: PgliteFailure | undefined;

  const fail = (found: PgliteFailure) => {
    if (failure) return;
    failure = found;
    // After the current call has unwound: the listener shuts the server down.
    queueMicrotask(() => onFailure(found));
  };

  const noteError = (err: unknown) => {
    const { severity, code, routine } = (err ?? {}) as { severity?: unknown; code?: unknown; routine?: unknown };
    if (typeof severity !== "string" || !UNRECOVERABLE_SEVERITIES.has(severity)) return;
    fail({
      severity: severity as "PANIC" | "FATAL",
      ...(typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && { sqlstate: code }),
      ...(typeof routine === "string" && /^\w{1,64}$/.test(routine) && { routine }),
    });
  };

  target.execProtocolRawSync = (message) => {
    if (failure) throw new DatabaseFailedError(failure);
    try {
      return execProtocolRawSync.call(client, message);
    } catch (err) {
      // PostgreSQL's own errors come back as messages, not exceptions: anything thrown out of the
      // runtime leaves it in a state nothing here can trust.
      fail({ severity: "ABORTED" });
      throw err;
    }
  };
  target.execProtocol = async (...args) => {
    try {
      return await execProtocol.apply(client, args);
    } catch (err) {
      noteError(err);
      throw err;
    }
  };
  target.execProtocolStream = async (...args) => {
    try {
      return await execProtocolStream.apply(client, args);
    } catch (err) {
      noteError(err);
      throw err;
    }
  };
  return { failure: () => failure };
}

/** The operator's line on stderr when the embedded database failed for good. */
export function pgliteFailureMessage(failure: PgliteFailure, dir: string, minFreeBytes: number): string {
  const where = [failure.severity, failure.sqlstate && `SQLSTATE ${failure.sqlstate}`, failure.routine && `in ${failure.routine}`]
    .filter(Boolean)
    .join(", ");
  if (failure.sqlstate === "53100") {
    return diskFullMessage(dir, `the embedded database could not write (${where}) and cannot continue in this process, which exits now`, minFreeBytes);
  }
  return `the embedded database under ${dir} failed (${where}) and cannot continue in this process, which exits now. Start the server again: it recovers from its write-ahead log.`;
}
