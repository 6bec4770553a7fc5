import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * PGlite is one process's database: two processes opening the same data directory would corrupt
 * it. A pid file taken with O_EXCL keeps the second one out with a clear message; a stale file
 * (its process is gone) is taken over.
 */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

export async function lockDataDir(dataDir: string, purpose: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, "LOCK");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n${purpose}\n`);
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const [pid, holder] = (await readFile(file, "utf8").catch(() => "")).split("\n");
      if (pid && isAlive(Number(pid))) {
        throw new DataDirLockedError(
          `The data directory ${dataDir} is in use by process ${pid} (${holder ?? "unknown"}). ` +
            "The embedded database serves one process at a time: stop it first, or use PostgreSQL (DATABASE_URL).",
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`Could not lock the data directory ${dataDir}`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
