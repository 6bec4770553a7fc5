import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createVitest, type Vitest } from "vitest/node";
import { keptThreadPool } from "../../packages/server/vitest.mutation.pool.js";

const mutationSetup = fileURLToPath(new URL("../../packages/server/vitest.mutation.setup.ts", import.meta.url));

// The server's mutation run keeps one worker thread for every mutant (vitest.mutation.pool.ts).
// What makes that safe: each run sees the workspace's modules evaluated afresh (no state a
// mutant left behind) with no mutant switched on while they are (vitest.mutation.setup.ts),
// keeps the dependencies, and honours the test name filter Stryker sets per mutant. Checked here the way Stryker's vitest runner drives vitest: one vitest, started again
// for every mutant.
const fixture = fileURLToPath(new URL("./fixtures/kept-thread-pool/", import.meta.url));

interface Probe {
  name: string;
  state: string | undefined;
  meta: Record<string, unknown>;
}

async function runOnce(vitest: Vitest, pattern: RegExp): Promise<Probe[]> {
  vitest.state.filesMap.clear(); // as Stryker's runner does between mutants
  for (const project of vitest.projects) project.config.testNamePattern = pattern;
  await vitest.start();
  return vitest.state.getFiles().flatMap((file) =>
    file.tasks.map((task) => ({ name: task.name, state: task.result?.state ?? task.mode, meta: task.meta as Record<string, unknown> })),
  );
}

describe("the kept worker thread of the server's mutation run", () => {
  it("runs starts in one thread (a new one after runsPerThread): the workspace's modules evaluated again with no mutant on, the dependencies kept, each start's test filter", async () => {
    const vitest = await createVitest("test", {
      root: fixture,
      config: false,
      include: ["probe.fixture.ts"],
      setupFiles: [mutationSetup],
      // What Stryker's runner provides for a mutant switched on at run time.
      provide: { globalNamespace: "__stryker__", mode: "mutant", mutantActivation: "runtime" },
      pool: keptThreadPool(() => [`${fixture}workspace-module.ts`], { runsPerThread: 3 }),
      isolate: false,
      maxWorkers: 1,
      watch: false,
      reporters: [],
    });
    try {
      const first = await runOnce(vitest, /alpha/);
      const second = await runOnce(vitest, /beta/);
      const third = await runOnce(vitest, /alpha/);
      const fourth = await runOnce(vitest, /alpha/);

      expect(first.map((t) => [t.name, t.state])).toEqual([["alpha", "pass"], ["beta", "skip"]]);
      expect(second.map((t) => [t.name, t.state])).toEqual([["alpha", "skip"], ["beta", "pass"]]);
      expect(third.map((t) => [t.name, t.state])).toEqual([["alpha", "pass"], ["beta", "skip"]]);

      const ran = [first[0], second[1], third[0]].map((t) => t!.meta);
      expect(new Set(ran.map((meta) => meta.threadId)).size).toBe(1);
      // After runsPerThread runs, a new thread takes over.
      expect(fourth[0]!.meta.threadId).not.toBe(ran[0]!.threadId);
      expect(ran.map((meta) => [meta.sameWorkspaceModule, meta.sameDependency])).toEqual([
        [null, null],
        [false, true],
        [false, true],
      ]);
      expect(ran.map((meta) => meta.activeWhileEvaluated)).toEqual([undefined, undefined, undefined]);
    } finally {
      await vitest.close();
    }
  }, 60_000);
});
