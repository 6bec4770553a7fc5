/**
 * PGlite's Node filesystem, keeping what it writes private to the process's user.
 *
 * Emscripten's FS (which PGlite's NODEFS mount goes through) creates a file and then chmods it to
 * the mode the program asked for, 0666 for most of PGlite's files: a chmod, which the process
 * umask does not reach, so under umask 077 the data files still came out 0666 (measured on
 * PGlite 0.5.17: 970 of 976 files). This mount removes group and other bits from every mode it
 * puts on disk, at creation and at chmod, as open(2) and mkdir(2) under umask 077 would. The
 * WASM side keeps the modes it asked for; PostgreSQL does not read them back.
 *
 * It patches two functions of Emscripten's NODEFS object. Should a PGlite upgrade rename them,
 * opening the database fails with a message saying so, rather than silently writing files others
 * can read (test/e2e/data-dir.test.ts checks the modes after a real start).
 */
import { mkdirSync } from "node:fs";
import { NodeFS } from "@electric-sql/pglite/nodefs";

const GROUP_OTHER = 0o077;

type Chmod = (target: unknown, mode: number) => void;

interface EmscriptenNodeFs {
  doSetAttr: (target: unknown, node: unknown, attr: unknown, chmod: Chmod, ...rest: unknown[]) => void;
  node_ops: { mknod: (parent: unknown, name: string, mode: number, dev: number) => unknown };
}

export class PrivateNodeFS extends NodeFS {
  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // NodeFS would create it with the umask's mode
    super(dataDir);
  }

  override async init(...args: Parameters<NodeFS["init"]>): ReturnType<NodeFS["init"]> {
    const result = await super.init(...args);
    const { emscriptenOpts } = result;
    emscriptenOpts.preRun = [(mod) => keepPrivate(mod.NODEFS as unknown), ...(emscriptenOpts.preRun ?? [])];
    return result;
  }
}

function keepPrivate(nodefs: unknown): void {
  const fs = nodefs as Partial<EmscriptenNodeFs> | undefined;
  const doSetAttr = fs?.doSetAttr;
  const mknod = fs?.node_ops?.mknod;
  if (typeof doSetAttr !== "function" || typeof mknod !== "function") {
    throw new Error(
      "PGlite's NODEFS no longer has doSetAttr and node_ops.mknod: update src/db/pglite-private-fs.ts " +
        "so the database files stay private (0600/0700)",
    );
  }
  fs!.doSetAttr = (target, node, attr, chmod, ...rest) =>
    doSetAttr.call(fs, target, node, attr, (t: unknown, mode: number) => chmod(t, mode & ~GROUP_OTHER), ...rest);
  fs!.node_ops!.mknod = (parent, name, mode, dev) => mknod.call(fs!.node_ops, parent, name, mode & ~GROUP_OTHER, dev);
}
