/**
 * The SDK's cost: one page of registries (limit 50) through `@modbox/sdk` against a raw `fetch`
 * of the same URL with the same headers and `res.json()`, sequentially, one request at a time, on
 * our server. Both use Node's global fetch (undici, keep-alive). The two alternate call by call,
 * so the server and machine state is the same for both; the ratio is of total (= mean) time.
 */
import { createClient } from "@modbox/sdk";
import { median, round } from "./stats.js";

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
