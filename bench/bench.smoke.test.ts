/**
 * Keeps the benchmark harness working: runs `bench/run.ts --smoke` as a child process (its own
 * servers, a few requests of every scenario, a key rotation under load, forged tokens and keyed
 * creates, a tiny seed) on the run's PostgreSQL, and checks it produced a complete results object.
 * It asserts completeness, not speed: numbers from a smoke run on a busy CI machine mean nothing.
 * Results go to a temp file, never to bench/results/latest.json or BENCHMARKS.md.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, inject, it } from "vitest";
import "@modbox/testkit/provided-context";
import { FLOOR_VARIANTS } from "./lib/floor.js";
import { checksOf, type BenchResults } from "./lib/report.js";
import { HTTP_SCENARIOS, PENDING_SCENARIOS, SCALE_SCENARIO_IDS } from "./lib/scenarios.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const postgresUrl = inject("postgresUrl");
const dir = mkdtempSync(join(tmpdir(), "modbox-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runSmoke(out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "--smoke", "--out", out, "--postgres-url", postgresUrl!],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGINT"), 110_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.replace(/mbx_[A-Za-z0-9_-]+/g, "mbx_[redacted]") });
    });
  });
}

const positive = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0;

describe.skipIf(!postgresUrl)("pnpm bench:smoke", () => {
  it("runs every scenario against ours and the baseline and writes a complete results object", async () => {
    const out = join(dir, "smoke.json");
    const { code, output } = await runSmoke(out);
    expect(code, output.slice(-4000)).toBe(0);
    const r = JSON.parse(readFileSync(out, "utf8")) as BenchResults;

    expect(r).toMatchObject({ schema: 1, mode: "smoke", command: "pnpm bench:smoke" });
    expect(positive(r.machine.nproc) && positive(r.machine.memoryGiB)).toBe(true);
    expect(r.machine.node).toBe(process.version);

    // Every HTTP scenario measured on both servers, every request answered 2xx.
    const measured = r.scenarios.filter((s) => s.status === "measured");
    expect(measured.map((s) => s.id)).toEqual(HTTP_SCENARIOS.map((s) => s.id));
    for (const s of measured) {
      for (const side of [s.ours, s.baseline]) {
        expect(side.errors, `${s.id}: ${JSON.stringify(side.errorStatuses)}`).toBe(0);
        expect(positive(side.rps) && positive(side.p50) && positive(side.p99) && side.ok > 0, s.id).toBe(true);
        if (process.platform === "linux") expect(side.cpuMsPerRequest, s.id).not.toBeNull();
      }
      expect(positive(s.ratio.rps) && positive(s.ratio.p99)).toBe(true);
    }
    // Scenarios whose endpoint has not landed are listed without a number (none left today).
    expect(r.scenarios.filter((s) => s.status === "pending").map((s) => s.id)).toEqual(PENDING_SCENARIOS.map((s) => s.id));

    expect(r.scale.map((s) => s.id)).toEqual([...SCALE_SCENARIO_IDS]);
    for (const s of r.scale) {
      expect(s.smallRows).toBeLessThan(s.largeRows);
      for (const side of [s.ours.small, s.ours.large, s.baseline.small, s.baseline.large]) {
        expect(side.errors).toBe(0);
        expect(positive(side.p50)).toBe(true);
      }
      expect(positive(s.ours.p50Ratio) && positive(s.baseline.p50Ratio)).toBe(true);
    }

    // The framework floor: each variant answered every request with 2xx (the validated one passed
    // openapi.yaml's checks), and a ceiling is given for every measured scenario.
    for (const variant of FLOOR_VARIANTS) {
      const x = r.frameworkFloor.variants[variant];
      expect(x.errors, `${variant}: ${JSON.stringify(x.errorStatuses)}`).toBe(0);
      expect(x.ok > 0 && positive(x.rps), variant).toBe(true);
    }
    expect(Object.keys(r.frameworkFloor.ceilings)).toEqual(measured.map((s) => s.id));

    for (const op of [r.crypto.encrypt, r.crypto.decrypt]) expect(positive(op.ours) && positive(op.raw) && positive(op.ratio)).toBe(true);
    expect(positive(r.sdk.sdkMeanMs) && positive(r.sdk.rawMeanMs) && positive(r.sdk.ratio)).toBe(true);
    for (const s of [r.startup.pglite, r.startup.postgres]) {
      expect(s.runs.length).toBeGreaterThan(0);
      expect(positive(s.readyMs)).toBe(true);
      if (process.platform === "linux") expect(positive(s.rssMiB)).toBe(true);
    }

    // Key rotation under load: `keys rotate` ran to the end while the load covered it, no read
    // failed, every row is on the new key and decrypts, no acknowledged password was lost.
    const k = r.rotation;
    expect(k.rotation.exitCode, `${k.rotation.summaryLine}\n${k.rotation.stderrTail ?? ""}`).toBe(0);
    expect(k.rotation.leftOnOtherKeys).toBe(0);
    expect(k.rotation.couldNotOpen).toBe(0);
    expect(k.load.coveredRotation).toBe(true);
    expect(k.load.during.readRps).toBeGreaterThan(0);
    expect(k.failedReads, JSON.stringify(k.failedReads.statuses)).toMatchObject({ duringRotation: 0, wholeLoad: 0 });
    expect(k.verification).toMatchObject({ rows: k.registries, onOldKey: 0, onNewKey: k.registries, undecryptable: 0, keyIdMismatch: 0, lost: 0 });
    expect(k.verification.writtenRegistries).toBeGreaterThan(0);
    expect(k.pass).toMatchObject({ failedReads: true, lost: true });

    // Forged tokens: the real client was answered 2xx alone and under attack, the forgers sent
    // and were refused (401 looked up, 429 not), and none of them was let in.
    const f = r.forgedTokens!;
    expect(f.limited.idle.errors + f.limited.attack.errors, JSON.stringify(f.limited.attack.errorStatuses)).toBe(0);
    expect(f.limited.idle.ok > 0 && f.limited.attack.ok > 0 && positive(f.limited.ratio.p50)).toBe(true);
    expect(f.limited.forgers.requests).toBeGreaterThan(0);
    expect(Object.keys(f.limited.forgers.statuses).every((status) => status === "401" || status === "429")).toBe(true);

    // Idempotency-Key on create: both sides answered 2xx, the keys were honoured (each keyed
    // create stored its answer, none left running, a key sent twice replayed), a ratio given.
    const i = r.idempotency!;
    for (const side of [i.withoutKey, i.withKey]) {
      expect(side.errors, JSON.stringify(side.errorStatuses)).toBe(0);
      expect(side.ok > 0 && positive(side.rps)).toBe(true);
      if (process.platform === "linux") expect(side.cpuMsPerRequest).not.toBeNull();
    }
    expect(positive(i.ratio.rps)).toBe(true);
    expect(i.ratio.perRound).toHaveLength(i.rounds);
    expect(i.keys).toMatchObject({ replayed: true, running: 0 });
    expect(i.keys.answered).toBeGreaterThanOrEqual(i.keys.keyedCreates);
    expect(i.pass.honoured).toBe(true);

    expect(r.summary.checks).toBe(checksOf(r).length);
    expect(r.summary.passed + r.summary.failed).toBe(r.summary.checks);
  });
});
