/**
 * Free space under the embedded database, and what to tell an operator when there is none.
 *
 * Why a guard at all: PGlite cannot survive a full disk in-process (see pglite-failure.ts). Its
 * write-ahead log grows 16 MiB at a time, and PostgreSQL must create the next segment whole when
 * the current one fills up; if it cannot, the embedded database is lost until the process
 * restarts. Refusing writes while the free space is below a margin larger than a segment keeps the
 * server answering (reads work, writes get 503) until someone frees space.
 *
 * The check is on the hot path of every write, so the statfs(2) answer is cached and refreshed at
 * most once per `refreshMs`: a write costs a clock read, and one request per interval waits for one
 * asynchronous statfs.
 */
import { statfs } from "node:fs/promises";
import { statfsSync } from "node:fs";
import type { Logger } from "pino";
import { classifyDatabaseError } from "./errors.js";

/** PostgreSQL's default WAL segment: what the embedded database may allocate in one go. */
export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;

const MIB = 1024 * 1024;

export interface FreeSpaceMonitor {
  readonly dir: string;
  readonly minFreeBytes: number;
  /**
   * Whether writes may go ahead: `true`/`false` from the cached answer, or a promise when the
   * cache is stale and is being refreshed. A failing statfs never blocks writes (it is logged).
   */
  hasRoom(): boolean | Promise<boolean>;
}

export interface FreeSpaceMonitorOptions {
  dir: string;
  minFreeBytes: number;
  logger: Logger;
  /** Default 1000 ms. */
  refreshMs?: number;
  /** For tests: the clock and statfs. */
  now?: () => number;
  freeBytes?: (dir: string) => Promise<number>;
}

/** Bytes available to this process' user on the filesystem holding `dir`. */
export async function freeBytesUnder(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

/** The same, synchronously, or undefined when it cannot be read: for one-off messages only. */
export function freeBytesUnderSync(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

export function createFreeSpaceMonitor(options: FreeSpaceMonitorOptions): FreeSpaceMonitor {
  const { dir, minFreeBytes, logger } = options;
  const refreshMs = options.refreshMs ?? 1000;
  const now = options.now ?? Date.now;
  const read = options.freeBytes ?? freeBytesUnder;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let room = true;
  let refreshing: Promise<boolean> | undefined;
  let statfsFailing = false;

  const refresh = (): Promise<boolean> =>
    (refreshing ??= read(dir)
      .then(
        (free) => {
          const hadRoom = room;
          room = free >= minFreeBytes;
          statfsFailing = false;
          if (hadRoom && !room) {
            logger.warn(
              { dir, freeMiB: toMiB(free), minFreeMiB: toMiB(minFreeBytes) },
              "the disk under the data directory is nearly full: refusing writes (503) until space is freed",
            );
          } else if (!hadRoom && room) {
            logger.info({ dir, freeMiB: toMiB(free) }, "free space is back above the minimum: accepting writes again");
          }
          return room;
        },
        (err: unknown) => {
          if (!statfsFailing) {
            logger.warn({ dir, code: (err as NodeJS.ErrnoException).code }, "cannot read the free space under the data directory");
          }
          statfsFailing = true;
          room = true;
          return room;
        },
      )
      .finally(() => {
        checkedAt = now();
        refreshing = undefined;
      }));

  return {
    dir,
    minFreeBytes,
    hasRoom: () => (now() - checkedAt < refreshMs ? room : refresh()),
  };
}

/**
 * What an operator reads on stderr when the embedded database ran out of disk, as the first
 * words of the line: "the disk under <dir> is full: …".
 */
export function diskFullMessage(dir: string, what: string, minFreeBytes: number): string {
  const free = freeBytesUnderSync(dir);
  const needed =
    minFreeBytes > WAL_SEGMENT_BYTES
      ? `${toMiB(minFreeBytes)} MiB (MODBOX_MIN_FREE_DISK_MB)`
      : `${toMiB(WAL_SEGMENT_BYTES)} MiB (one write-ahead-log segment)`;
  return (
    `the disk under ${dir} is full: ${what}. ` +
    (free !== undefined ? `${toMiB(free)} MiB are free there; ` : "") +
    `the server needs at least ${needed}. Free space on that disk, then start the server again: ` +
    "every write it acknowledged is kept."
  );
}

function toMiB(bytes: number): number {
  return Math.floor((bytes / MIB) * 10) / 10;
}

/** A start of the embedded database refused for lack of disk space: an operator message. */
export class DiskFullError extends Error {
  override name = "DiskFullError";
}

/**
 * Why a start failed, when the disk is the reason: PGlite reports a full disk at start only as
 * "PGlite failed to initialize properly", so the free space decides. Undefined otherwise.
 */
export function diskFullAtStart(err: unknown, dir: string, minFreeBytes: number): DiskFullError | undefined {
  const free = freeBytesUnderSync(dir);
  const diskFull = classifyDatabaseError(err).kind === "disk_full";
  if (!diskFull && (free === undefined || free >= Math.max(minFreeBytes, WAL_SEGMENT_BYTES))) return undefined;
  return new DiskFullError(diskFullMessage(dir, "the embedded database cannot start", minFreeBytes), { cause: err });
}
