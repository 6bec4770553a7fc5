/**
 * The framework floor (bench/floor/server.ts): the CPU a request costs on bare node:http, on
 * Express, and on Express with the OpenAPI request validator, all answering the same fixed JSON
 * with no database. It has no target of its own; it bounds what tuning our code can achieve, since
 * every request of ours pays the validated-Express floor and the baseline pays the node:http one.
 */
import type { LoadBounds, LoadResult, LoadRun, LoadSpec } from "./load.js";
import { mergeLoads, runLoad } from "./load.js";
import { childEnv, startServerProcess, type ServerProcess } from "./processes.js";

export const FLOOR_VARIANTS = ["node-http", "express", "express-validated"] as const;
export type FloorVariant = (typeof FLOOR_VARIANTS)[number];

export type FloorResult = Record<FloorVariant, LoadResult>;

const FLOOR_REQUEST: LoadSpec = {
  next: () => ({ method: "GET", path: "/registries/0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70" }),
  headers: { authorization: "Bearer mbx_floor", "x-workspace-id": "ws-bench", accept: "application/json" },
};

/**
 * Starts the three variants (each in its own process, one at a time is loaded), warms each up,
 * then runs `rounds` rounds over all three in rotating order.
 */
export async function runFrameworkFloor(
  freePort: () => Promise<number>,
  bounds: { warmup: LoadBounds; measure: LoadBounds; rounds: number },
): Promise<FloorResult> {
  const servers = new Map<FloorVariant, ServerProcess>();
  try {
    for (const variant of FLOOR_VARIANTS) {
      const port = await freePort();
      servers.set(
        variant,
        await startServerProcess({
          name: `floor-${variant}`,
          script: "bench/floor/server.ts",
          port,
          env: childEnv({ NODE_ENV: "production", PORT: String(port), FLOOR_VARIANT: variant }),
        }),
      );
    }
    for (const server of servers.values()) await runLoad(server, FLOOR_REQUEST, bounds.warmup);
    const runs = new Map<FloorVariant, LoadRun[]>(FLOOR_VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < bounds.rounds; r++) {
      const order = FLOOR_VARIANTS.map((_, i) => FLOOR_VARIANTS[(i + r) % FLOOR_VARIANTS.length]!);
      for (const variant of order) runs.get(variant)!.push(await runLoad(servers.get(variant)!, FLOOR_REQUEST, bounds.measure));
    }
    return Object.fromEntries(FLOOR_VARIANTS.map((v) => [v, mergeLoads(runs.get(v)!)])) as FloorResult;
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

/**
 * The best throughput ratio a server on validated Express could reach against the baseline for a
 * scenario, if all it added to the baseline's work were the framework (our code free), on a
 * CPU-bound core: baseline CPU ÷ (baseline CPU + validated-Express floor − node:http floor).
 */
export function expressCeiling(floor: FloorResult, baselineCpuMsPerRequest: number | null): number | null {
  const validated = floor["express-validated"].cpuMsPerRequest;
  const bare = floor["node-http"].cpuMsPerRequest;
  if (baselineCpuMsPerRequest === null || validated === null || bare === null) return null;
  return Math.round((baselineCpuMsPerRequest / (baselineCpuMsPerRequest + validated - bare)) * 100) / 100;
}
