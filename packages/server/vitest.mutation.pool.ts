import { ThreadsPoolWorker, type PoolOptions, type PoolRunnerInitializer, type PoolWorker, type WorkerRequest } from "vitest/node";

// A vitest pool for the mutation run that keeps one worker thread for the whole run.
//
// Stryker's vitest runner starts vitest once per mutant, and vitest 4.1 stops a worker when no
// more files are queued, so every mutant paid for a new thread that imported vitest's runtime and
// every dependency (Express, drizzle, postgres.js, the validator) again: about half a second per
// mutant, most of a run. This pool keeps the thread, so Node's module cache keeps those
// dependencies, and makes each mutant's run behave as if the thread were new for our own code:
// every module of the workspace (`packages/*/src`) is re-evaluated from scratch, so no state a
// mutant left in a module (a cache, a counter) reaches the next mutant.
//
// Built on vitest's custom pool API (a PoolWorker sees the worker protocol: start, run, stop):
// - the first "start" goes to the thread; later ones are answered here, and their config (which
//   carries the test name filter Stryker sets per mutant) travels with the next "run" instead;
// - "run" also names the workspace's files to invalidate in the thread's module cache;
// - "stop" is answered here; the thread is terminated when vitest closes.
//
// Checked by scripts/mutation/kept-thread-pool.test.ts (one thread, our modules evaluated again,
// dependencies kept, each start's test filter honoured). Only the server's run uses it; that run
// skips static mutants (`ignoreStatic`), so every mutant it runs is switched on at run time.
//
// `runsPerThread`: runs one thread serves before a new one takes over. vitest's worker keeps
// something of every run (for one, each run's cancel callback, which holds that run's test
// runner, is never removed): with one thread for a whole run, a test runner process grew to
// 2.4 GB in 13 minutes. A new thread costs about what every mutant used to.
export function keptThreadPool(
  workspaceFiles: () => string[],
  { runsPerThread = 200 }: { runsPerThread?: number } = {},
): PoolRunnerInitializer & { close(): Promise<void>; discardAfterThisRun(): void } {
  let thread: ThreadsPoolWorker | undefined;
  let invalidated: string[] | undefined;
  let threadStarted = false;
  /** A run was sent to the thread and its "testfileFinished" has not come back yet. */
  let busy = false;
  /** The thread serves one run only (a static mutant's), and is terminated when it stops. */
  let singleUse = false;
  /** Runs sent to the current thread. */
  let runs = 0;
  /** The current run left something behind (a test that timed out): no later run gets its thread. */
  let discard = false;
  let config: Extract<WorkerRequest, { type: "start" }>["context"]["config"] | undefined;
  const name = "kept-threads";

  class KeptThreadWorker implements PoolWorker {
    readonly name = name;
    private readonly listeners: Array<[string, (arg: unknown) => void]> = [];

    constructor(private readonly options: PoolOptions) {}

    async start(): Promise<void> {
      // A static mutant (module-level code, switched on by Stryker's setup file) gets a thread
      // of its own, as without this pool: with the thread kept, an experiment reported about
      // half of one file's static mutants as survived with no test run (cause not found). The
      // server's run skips static mutants; this keeps the pool right if that changes.
      const isStatic = this.options.project.getProvidedContext()["mutantActivation" as never] === "static";
      if (isStatic) await closeThread();
      if (thread) return;
      singleUse = isStatic;
      thread = new ThreadsPoolWorker(this.options);
      await thread.start();
      thread.on("message", (message: { __vitest_worker_response__?: boolean; type?: string }) => {
        if (message?.__vitest_worker_response__ && message.type === "testfileFinished") busy = false;
      });
    }

    /**
     * Leaves the thread running for the next mutant: only this run's listeners are removed. Not a
     * thread that is still running tests (vitest stops a run without waiting for it when a second
     * cancel comes while one is in progress): its late answer could be taken for the next run's.
     * That thread is terminated, and the next mutant starts a new one.
     */
    async stop(): Promise<void> {
      for (const [event, callback] of this.listeners.splice(0)) thread?.off(event, callback);
      if (busy || singleUse || discard || runs >= runsPerThread) await closeThread();
    }

    on(event: string, callback: (arg: unknown) => void): void {
      this.listeners.push([event, callback]);
      running().on(event, callback);
    }

    off(event: string, callback: (arg: unknown) => void): void {
      const index = this.listeners.findIndex(([e, c]) => e === event && c === callback);
      if (index !== -1) this.listeners.splice(index, 1);
      running().off(event, callback);
    }

    send(message: WorkerRequest): void {
      switch (message.type) {
        case "start":
          config = message.context.config;
          if (!threadStarted) {
            threadStarted = true;
            return running().send(message);
          }
          return this.answer("started");
        case "stop":
          return this.answer("stopped");
        case "run":
        case "collect": {
          busy = true;
          runs += 1;
          // The thread runs tests with `{ ...the first start's context, ...this context }`, so the
          // `config` here replaces the one it started with.
          const context = {
            ...message.context,
            config,
            invalidates: [...(message.context.invalidates ?? []), ...(invalidated ??= workspaceFiles())],
          };
          return running().send({ ...message, context });
        }
        default:
          return running().send(message);
      }
    }

    deserialize(data: unknown): unknown {
      return data;
    }

    /** Answers the pool as the thread would have, after the caller starts waiting for it. */
    private answer(type: "started" | "stopped"): void {
      const response = { __vitest_worker_response__: true, type };
      setImmediate(() => {
        for (const [event, callback] of this.listeners) if (event === "message") callback(response);
      });
    }
  }

  function running(): ThreadsPoolWorker {
    if (!thread) throw new Error("the kept worker thread was used before it started");
    return thread;
  }

  async function closeThread(): Promise<void> {
    const last = thread;
    thread = undefined;
    threadStarted = false;
    busy = false;
    singleUse = false;
    discard = false;
    runs = 0;
    await last?.stop();
  }

  return {
    name,
    createPoolWorker: (options) => new KeptThreadWorker(options),
    close: closeThread,
    /**
     * Terminates the thread once the current run ends. For a test that timed out: its body is
     * still pending in the thread and may never undo what it changed (a patched built-in, an open
     * handle), which would then fail the tests of every later mutant.
     */
    discardAfterThisRun() {
      discard = true;
    },
  };
}
