import { chmod, chown, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirOwnershipError, makeDataDirPrivate } from "./private-dir.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "modbox-private-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function recordingLog() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  return { warnings, warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }) };
}

const modeOf = async (path: string) => (await lstat(path)).mode & 0o777;

describe("makeDataDirPrivate", () => {
  it("creates a missing directory 0700 (parents too), with nothing to report", async () => {
    const dataDir = join(root, "a", "data");
    const log = recordingLog();
    expect(await makeDataDirPrivate(dataDir, log)).toEqual({ created: true, tightened: 0 });
    expect(await modeOf(dataDir)).toBe(0o700);
    expect(log.warnings).toEqual([]);
  });

  it("tightens every entry group or others can access, follows no symlink, and warns once", async () => {
    const dataDir = join(root, "data");
    const outside = join(root, "outside");
    await mkdir(join(dataDir, "pglite", "base", "5"), { recursive: true });
    await mkdir(join(dataDir, "private-dir"));
    await mkdir(outside);
    await writeFile(join(dataDir, "pglite", "base", "5", "16384"), "table data");
    await writeFile(join(dataDir, "pglite", "PG_VERSION"), "17");
    await writeFile(join(dataDir, "encryption-keys"), "k1:secret");
    await writeFile(join(outside, "file"), "outside");
    await writeFile(join(outside, "in-dir"), "outside");
    await symlink(join(outside, "file"), join(dataDir, "link-to-file"));
    await symlink(outside, join(dataDir, "pglite", "link-to-dir"));
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, "pglite"), 0o777);
    await chmod(join(dataDir, "pglite", "base"), 0o755);
    await chmod(join(dataDir, "pglite", "base", "5"), 0o750);
    await chmod(join(dataDir, "pglite", "base", "5", "16384"), 0o666);
    await chmod(join(dataDir, "pglite", "PG_VERSION"), 0o644);
    await chmod(join(dataDir, "encryption-keys"), 0o600); // already private: left alone
    await chmod(join(dataDir, "private-dir"), 0o700); // already private: left alone
    await chmod(outside, 0o777);
    await chmod(join(outside, "file"), 0o666);
    await chmod(join(outside, "in-dir"), 0o666);

    const log = recordingLog();
    expect(await makeDataDirPrivate(dataDir, log)).toEqual({ created: false, tightened: 6 });

    expect(await modeOf(dataDir)).toBe(0o700);
    expect(await modeOf(join(dataDir, "pglite"))).toBe(0o700);
    expect(await modeOf(join(dataDir, "pglite", "base"))).toBe(0o700);
    expect(await modeOf(join(dataDir, "pglite", "base", "5"))).toBe(0o700);
    expect(await modeOf(join(dataDir, "pglite", "base", "5", "16384"))).toBe(0o600);
    expect(await modeOf(join(dataDir, "pglite", "PG_VERSION"))).toBe(0o600);
    expect(await modeOf(join(dataDir, "encryption-keys"))).toBe(0o600);
    // The links' targets, outside the data directory, are not touched.
    expect(await modeOf(outside)).toBe(0o777);
    expect(await modeOf(join(outside, "file"))).toBe(0o666);
    expect(await modeOf(join(outside, "in-dir"))).toBe(0o666);
    expect((await lstat(join(dataDir, "link-to-file"))).isSymbolicLink()).toBe(true);

    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]!.fields).toEqual({ dataDir, tightened: 6 });
    expect(log.warnings[0]!.message).toBe(
      `Tightened the permissions of 6 entries of the data directory ${dataDir}: group or other users had access to them. ` +
        "Directories are now 0700 and files 0600.",
    );
    expect(JSON.stringify(log.warnings)).not.toMatch(/secret|table data|16384|PG_VERSION/);

    const again = recordingLog();
    expect(await makeDataDirPrivate(dataDir, again)).toEqual({ created: false, tightened: 0 });
    expect(again.warnings).toEqual([]);
  });

  it("follows the data directory itself when it is a symlink (the operator named it)", async () => {
    const real = join(root, "real");
    await mkdir(real, { mode: 0o755 });
    await chmod(real, 0o755);
    await writeFile(join(real, "f"), "x", { mode: 0o644 });
    await chmod(join(real, "f"), 0o644);
    await symlink(real, join(root, "data"));
    expect(await makeDataDirPrivate(join(root, "data"), recordingLog())).toEqual({ created: false, tightened: 2 });
    expect(await modeOf(real)).toBe(0o700);
    expect(await modeOf(join(real, "f"))).toBe(0o600);
  });

  it.runIf(process.getuid?.() === 0)("refuses an entry owned by another user, naming it", async () => {
    const dataDir = join(root, "data");
    await mkdir(join(dataDir, "pglite"), { recursive: true });
    await writeFile(join(dataDir, "pglite", "foreign"), "x");
    await chown(join(dataDir, "pglite", "foreign"), 65534, 65534);
    await chmod(join(dataDir, "pglite", "foreign"), 0o644);
    const err = await makeDataDirPrivate(dataDir, recordingLog()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirOwnershipError);
    expect((err as Error).message).toBe(
      `The data directory ${dataDir} holds ${join(dataDir, "pglite", "foreign")}, owned by user 65534, but this process runs as user 0. ` +
        "Run it as the owner of the data directory, or give the directory and everything in it to this user (chown -R).",
    );
    // Nothing of someone else's was changed.
    expect(await modeOf(join(dataDir, "pglite", "foreign"))).toBe(0o644);

    await chown(dataDir, 65534, 65534);
    const rootErr = await makeDataDirPrivate(dataDir, recordingLog()).catch((e: unknown) => e);
    expect((rootErr as Error).message).toContain(`The data directory ${dataDir} holds ${dataDir}, owned by user 65534`);
    expect((await stat(dataDir)).uid).toBe(65534);
  });
});
