/**
 * Runs the SDK comparison (lib/sdk-bench.ts) in a process of its own and prints the result as
 * JSON: the client side then has a heap like an application's, not the bench process's (tens of
 * thousands of latency samples, autocannon's state), where a garbage collection lands on
 * whichever call is in flight and bills the side that allocates more.
 *
 * Env: SDK_BENCH_URL, SDK_BENCH_TOKEN, SDK_BENCH_WORKSPACE, SDK_BENCH_CALLS, SDK_BENCH_WARMUP.
 */
import { runSdkBench } from "../lib/sdk-bench.js";

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const result = await runSdkBench(
  required("SDK_BENCH_URL"),
  required("SDK_BENCH_TOKEN"),
  required("SDK_BENCH_WORKSPACE"),
  Number(required("SDK_BENCH_CALLS")),
  Number(required("SDK_BENCH_WARMUP")),
);
process.stdout.write(`${JSON.stringify(result)}\n`);
