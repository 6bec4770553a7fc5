/**
 * The SDK's cost: one page of registries (limit 50) through `@modbox/sdk` against a raw `fetch`
 * of the same URL with the same headers and `res.json()`, sequentially, one request at a time, on
 * our server. Both use Node's global fetch (undici, keep-alive). The two alternate call by call,
 * so the server and machine state is the same for both; the ratio is of total (= mean) time.
 * The full run calls it in a process of its own (`runSdkBenchInChild`, bench/sdk/main.ts).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createClient } from "@modbox/sdk";
import { childEnv, REPO_ROOT } from "./processes.js";
import { median, round } from "./stats.js";

const execFileAsync = promisify(execFile);

export interface SdkResult {
  calls: number;
  sdkMeanMs: number;
  rawMeanMs: number;
  sdkP50Ms: number;
  rawP50Ms: number;
  /** SDK time ÷ raw fetch time (means). */
  ratio: number;
}

export async function runSdkBench(baseUrl: string, token: string, workspaceId: string, calls: number, warmup: number): Promise<SdkResult> {
  const client = createClient({ baseUrl, token, workspaceId });
  const url = `${baseUrl}/registries?limit=50`;
  const headers = {
    Accept: "application/json, application/problem+json",
    Authorization: `Bearer ${token}`,
    "X-Workspace-Id": workspaceId,
  };
  const viaSdk = async () => {
    const page = await client.registries.list({ limit: 50 });
    if (page.data.length === 0) throw new Error("sdk bench: empty page");
  };
  const viaFetch = async () => {
    const res = await fetch(url, { headers });
    if (res.status !== 200) throw new Error(`sdk bench: raw fetch answered ${res.status}`);
    const body = (await res.json()) as { data: unknown[] };
    if (body.data.length === 0) throw new Error("sdk bench: empty page");
  };
  const timed = async (fn: () => Promise<void>) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };

  for (let i = 0; i < warmup; i++) {
    await viaSdk();
    await viaFetch();
  }
  const sdk: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < calls; i++) {
    if (i % 2 === 0) {
      sdk.push(await timed(viaSdk));
      raw.push(await timed(viaFetch));
    } else {
      raw.push(await timed(viaFetch));
      sdk.push(await timed(viaSdk));
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    calls,
    sdkMeanMs: round(mean(sdk)),
    rawMeanMs: round(mean(raw)),
    sdkP50Ms: round(median(sdk)),
    rawP50Ms: round(median(raw)),
    ratio: round(mean(sdk) / mean(raw)),
  };
}

/** `runSdkBench` in a child process of its own (bench/sdk/main.ts), stopped when it is done. */
export async function runSdkBenchInChild(
  baseUrl: string,
  token: string,
  workspaceId: string,
  calls: number,
  warmup: number,
): Promise<SdkResult> {
  const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", "bench/sdk/main.ts"], {
    cwd: REPO_ROOT,
    env: childEnv({
      SDK_BENCH_URL: baseUrl,
      SDK_BENCH_TOKEN: token,
      SDK_BENCH_WORKSPACE: workspaceId,
      SDK_BENCH_CALLS: String(calls),
      SDK_BENCH_WARMUP: String(warmup),
    }),
    timeout: 300_000,
  });
  return JSON.parse(stdout) as SdkResult;
}
