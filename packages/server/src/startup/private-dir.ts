import { chmod, lstat, mkdir, readdir, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";

/**
 * The data directory holds the embedded database (token hashes, ciphertexts, the WAL) and the
 * generated encryption key: no other local user may read or rewrite any of it. A new directory
 * is created 0700. An existing one, e.g. written by an earlier version (PGlite's files came out
 * 0666 in a 0755 directory), is tightened: every entry group or others can access becomes 0700
 * (directories) or 0600 (files), and one warning says how many were changed.
 *
 * Symbolic links are neither followed nor changed (chmod would change their target, wherever it
 * is); the directory itself may be one, since the operator named it. An entry owned by another
 * user stops the start: this process could not keep it private, or would leave behind files the
 * owner cannot read.
 */
export class DataDirOwnershipError extends Error {
  override name = "DataDirOwnershipError";
}

export interface PrivateDirLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface PrivateDirResult {
  created: boolean;
  /** Entries whose group/other access was removed. */
  tightened: number;
}

const GROUP_OTHER = 0o077;
const VANISHED = Symbol("vanished");

export async function makeDataDirPrivate(dataDir: string, log: PrivateDirLog): Promise<PrivateDirResult> {
  const created = (await mkdir(dataDir, { recursive: true, mode: 0o700 })) !== undefined;
  const uid = process.getuid?.();
  // Windows: no POSIX modes or uids to speak of.
  if (uid === undefined) return { created, tightened: 0 };

  let tightened = 0;
  const visit = async (path: string, info: Stats): Promise<boolean> => {
    if (info.isSymbolicLink()) return false;
    if (info.uid !== uid) {
      throw new DataDirOwnershipError(
        `The data directory ${dataDir} holds ${path}, owned by user ${info.uid}, but this process runs as user ${uid}. ` +
          "Run it as the owner of the data directory, or give the directory and everything in it to this user (chown -R).",
      );
    }
    if ((info.mode & GROUP_OTHER) !== 0) {
      const mode = info.isDirectory() ? 0o700 : info.isFile() ? 0o600 : info.mode & 0o700;
      if ((await unlessVanished(chmod(path, mode))) !== VANISHED) tightened++;
    }
    return info.isDirectory();
  };

  // The directory itself is followed if it is a link (stat, not lstat): the operator named it.
  const pending: string[] = [];
  if (await visit(dataDir, await stat(dataDir))) pending.push(dataDir);
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const names = await unlessVanished(readdir(dir));
    if (names === VANISHED) continue;
    for (const name of names) {
      const path = join(dir, name);
      const info = await unlessVanished(lstat(path));
      if (info !== VANISHED && (await visit(path, info))) pending.push(path);
    }
  }

  if (tightened > 0) {
    log.warn(
      { dataDir, tightened },
      `Tightened the permissions of ${tightened} entries of the data directory ${dataDir}: group or other users ` +
        "had access to them. Directories are now 0700 and files 0600.",
    );
  }
  return { created, tightened };
}

/** An entry removed while the walk runs is skipped, not an error. */
async function unlessVanished<T>(operation: Promise<T>): Promise<T | typeof VANISHED> {
  try {
    return await operation;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return VANISHED;
    throw err;
  }
}
