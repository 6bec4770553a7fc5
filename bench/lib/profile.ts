/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and summarises where the time went during a
 * window (the load phase; start-up is left out): self time per function, and time per package
 * counted inclusively (a sample counts once for every package on its stack, so "express-openapi-
 * validator 30 %" means 30 % of samples had a validator frame somewhere on the stack).
 *
 * The window is in the same clock as the profile (CLOCK_MONOTONIC, µs): pass
 * `process.hrtime.bigint() / 1000n` taken in the bench process, which shares that clock.
 */
import { readFileSync } from "node:fs";
import { round } from "./stats.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  windowMs: number;
  sampledMs: number;
  /** Samples that were not idle, as a share of the window: the server's CPU use. */
  busyPercent: number;
  byPackageInclusive: ProfileRow[];
  byPackageSelf: ProfileRow[];
  topSelf: ProfileRow[];
  /** Inclusive time of notable functions of ours (middleware, handlers, repositories). */
  topInclusiveOurs: ProfileRow[];
}

/** The package a script belongs to: `express`, `@modbox/server`, `node:internal`, `(gc)`, … */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === "(garbage collector)") return "(gc)";
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(program)") return "(program: native/V8)";
    return "(native)";
  }
  if (url.startsWith("node:")) return "node core";
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pnpm) return pnpm[1]!;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1]!;
  const ours = /packages\/([^/]+)\/src\//.exec(url);
  if (ours) return `@modbox/${ours[1]}`;
  return "(other)";
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, "").replace(/^file:\/\/.*?\/packages\//, "packages/");
  return `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
}

export function summarizeProfile(file: string, window?: { startUs: number; endUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  const self = new Map<number, number>();
  let t = profile.startTime;
  let sampledUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.startUs || t > window.endUs)) continue;
    // A sample's weight is the time until the next sample.
    const weight = profile.timeDeltas[i + 1] ?? delta;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + weight);
    sampledUs += weight;
    if (byId.get(id)?.callFrame.functionName === "(idle)") idleUs += weight;
  }
  const windowUs = window ? window.endUs - window.startUs : profile.endTime - profile.startTime;

  const selfByName = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const pkgInclusive = new Map<string, number>();
  const oursInclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    selfByName.set(label(node), (selfByName.get(label(node)) ?? 0) + us);
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + us);
    const seenPkgs = new Set<string>();
    const seenOurs = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (n.callFrame.functionName === "(root)") continue;
      const p = packageOf(n.callFrame.url, n.callFrame.functionName);
      seenPkgs.add(p);
      if (p.startsWith("@modbox/") && n.callFrame.functionName) seenOurs.add(label(n));
    }
    for (const p of seenPkgs) pkgInclusive.set(p, (pkgInclusive.get(p) ?? 0) + us);
    for (const f of seenOurs) oursInclusive.set(f, (oursInclusive.get(f) ?? 0) + us);
  }

  const rows = (m: Map<string, number>, n: number): ProfileRow[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: round(us / 1000, 1), percent: round((100 * us) / sampledUs, 1) }));

  return {
    file,
    windowMs: round(windowUs / 1000, 1),
    sampledMs: round(sampledUs / 1000, 1),
    busyPercent: round((100 * (sampledUs - idleUs)) / windowUs, 1),
    byPackageInclusive: rows(pkgInclusive, 20),
    byPackageSelf: rows(pkgSelf, 20),
    topSelf: rows(selfByName, 30),
    topInclusiveOurs: rows(oursInclusive, 25),
  };
}

export function profileMarkdown(title: string, s: ProfileSummary): string {
  const table = (rows: ProfileRow[]) =>
    ["| | ms | % of samples |", "|---|---:|---:|", ...rows.map((r) => `| \`${r.name}\` | ${r.ms} | ${r.percent} |`)].join("\n");
  return [
    `# CPU profile: ${title}`,
    "",
    `Profile \`${s.file}\`; load window ${s.windowMs} ms, sampled ${s.sampledMs} ms, server busy ${s.busyPercent} % of the window.`,
    "",
    "## Time by package, inclusive (a sample counts for every package on its stack)",
    table(s.byPackageInclusive),
    "",
    "## Time by package, self",
    table(s.byPackageSelf),
    "",
    "## Our functions, inclusive",
    table(s.topInclusiveOurs),
    "",
    "## Top functions, self",
    table(s.topSelf),
    "",
  ].join("\n");
}
