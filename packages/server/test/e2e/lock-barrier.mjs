/**
 * Test-only preload (`node --import tsx --import <this file> src/main.ts`): holds the server's
 * bind of its data-directory lock at a barrier, so that two servers started together reach the
 * lock within microseconds of each other rather than whenever their start-up got there. Nothing
 * else is changed. Preloads run in every thread, so also in the lock's worker thread, where tsx
 * does not load TypeScript: hence plain JavaScript.
 *
 * The barrier is the directory MODBOX_TEST_LOCK_BARRIER_DIR: the process writes `<pid>.ready`
 * there and waits for a file `go` holding an instant (ms since the epoch), written by the test
 * once every process is ready; it then spins until that instant and binds. It reports on stderr
 * "lock-barrier: released" (or "lock-barrier: timed out" after a minute without `go`).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const dir = process.env.MODBOX_TEST_LOCK_BARRIER_DIR;
const now = () => performance.timeOrigin + performance.now();
const nap = new Int32Array(new SharedArrayBuffer(4));
const listen = net.Server.prototype.listen;

function barrier(barrierDir) {
  writeFileSync(join(barrierDir, `${process.pid}.ready`), "");
  const go = join(barrierDir, "go");
  const giveUpAt = now() + 60_000;
  while (!existsSync(go)) {
    if (now() > giveUpAt) return "timed out";
    Atomics.wait(nap, 0, 0, 1); // 1 ms: this process is not the only one that needs the CPU
  }
  const at = Number(readFileSync(go, "utf8"));
  while (now() < at) {
    // spin to the instant: a timer would wake each process up to a millisecond apart
  }
  return "released";
}

net.Server.prototype.listen = function (...args) {
  const target = args[0];
  const path = typeof target === "string" ? target : target?.path;
  if (dir && typeof path === "string" && path.startsWith("\0modbox-registries/")) {
    process.stderr.write(`lock-barrier: ${barrier(dir)}\n`);
  }
  return listen.apply(this, args);
};
