/**
 * The attacker of the forged-token scenario (forged-tokens-bench.ts), run as its own process so
 * its work never shares the bench's event loop (where the real client's latencies are taken):
 *
 *   node --import tsx bench/lib/forger.ts <base url> <path> <workspace> <connections> <seconds> <local address>
 *
 * Each of `connections` keep-alive connections sends GETs one after another, each with a fresh,
 * random, checksum-valid token (the server's own generator: the cheap checksum check passes, so
 * only a lookup could tell it is unknown), from `local address` (a loopback address of its own, so
 * the server's per-address failure limit counts the forgers and not the real client). It stops
 * after `seconds` or on SIGTERM, and prints one JSON line: requests, statuses, seconds.
 */
import { Agent, request } from "node:http";
import { generateApiToken } from "../../packages/server/src/auth/api-token.js";

const [baseUrl, path, workspaceId, connectionsArg, secondsArg, localAddress] = process.argv.slice(2);
if (!baseUrl || !path || !workspaceId || !connectionsArg || !secondsArg || !localAddress) {
  process.stderr.write("usage: forger.ts <base url> <path> <workspace> <connections> <seconds> <local address>\n");
  process.exit(2);
}
const url = new URL(baseUrl);
const connections = Number(connectionsArg);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const statuses: Record<string, number> = {};
let requests = 0;
let stopping = false;
const started = performance.now();
const timer = setTimeout(() => (stopping = true), Number(secondsArg) * 1000);
process.once("SIGTERM", () => (stopping = true));

function forge(): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        agent,
        localAddress,
        headers: { authorization: `Bearer ${generateApiToken()}`, "x-workspace-id": workspaceId, accept: "application/json" },
      },
      (res) => {
        res.resume();
        res.once("end", () => {
          const key = String(res.statusCode ?? 0);
          statuses[key] = (statuses[key] ?? 0) + 1;
          resolve();
        });
      },
    );
    req.once("error", () => {
      statuses.network = (statuses.network ?? 0) + 1;
      resolve();
    });
    req.end();
  });
}

// The bench waits for this line before it counts the attack as started.
process.stderr.write("forging\n");
await Promise.all(
  Array.from({ length: connections }, async () => {
    while (!stopping) {
      await forge();
      requests++;
    }
  }),
);
clearTimeout(timer);
agent.destroy();
process.stdout.write(`${JSON.stringify({ requests, statuses, seconds: (performance.now() - started) / 1000 })}\n`);
