import { lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PrivateNodeFS } from "./pglite-private-fs.js";

/** mode (octal) → how many entries under dir (dir excluded) have it, directories as "d…". */
async function modes(dir: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const walk = async (path: string): Promise<void> => {
    for (const name of await readdir(path)) {
      const entry = join(path, name);
      const info = await lstat(entry);
      const key = `${info.isDirectory() ? "d" : "f"}${(info.mode & 0o777).toString(8)}`;
      counts[key] = (counts[key] ?? 0) + 1;
      if (info.isDirectory()) await walk(entry);
    }
  };
  await walk(dir);
  return counts;
}

let root: string;
let previousUmask: number | undefined;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "modbox-pglite-fs-"));
  // A permissive umask, as a process that did not set one has: the mount alone must keep the files private.
  previousUmask = process.umask(0o022);
});
afterEach(async () => {
  if (previousUmask !== undefined) process.umask(previousUmask);
  await rm(root, { recursive: true, force: true });
});

describe("PrivateNodeFS", () => {
  it("PGlite's own NodeFS writes files others can read and write (why this mount exists)", async () => {
    const dataDir = join(root, "plain");
    const db = await PGlite.create({ dataDir });
    await db.close();
    const counts = await modes(dataDir);
    expect(counts["f666"]).toBeGreaterThan(100);
  });

  it("keeps every file 0600 and every directory 0700, at creation and after writes", async () => {
    const dataDir = join(root, "private");
    const db = await PGlite.create({ fs: new PrivateNodeFS(dataDir) });
    await db.exec("create table t (x int); insert into t select generate_series(1, 10000); checkpoint;");
    await db.close();
    const reopened = await PGlite.create({ fs: new PrivateNodeFS(dataDir) });
    expect((await reopened.query<{ n: number }>("select count(*)::int as n from t")).rows[0]!.n).toBe(10000);
    await reopened.exec("create index on t (x); checkpoint;");
    await reopened.close();

    const counts = await modes(dataDir);
    expect((await lstat(dataDir)).mode & 0o777).toBe(0o700);
    expect(Object.keys(counts).sort()).toEqual(["d700", "f600"]);
    expect(counts["f600"]).toBeGreaterThan(900);
  });
});
