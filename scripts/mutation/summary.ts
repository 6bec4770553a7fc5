/**
 * Turns StrykerJS's JSON reports (mutation-testing-report-schema) into the tracked summary in
 * MUTATION.md: the score per folder against its target, every undetected mutant, and every mutant
 * marked equivalent (a `// Stryker disable … : reason` comment in the code) with its reason.
 * The scores are mutation-testing-metrics' own (the library Stryker's HTML report uses):
 * killed + timed out ÷ valid mutants; compile errors and ignored mutants do not count.
 */
import { calculateMetrics } from "mutation-testing-metrics";

export type ReportFiles = Parameters<typeof calculateMetrics>[0];

/** The report's `testFiles`: every test file Stryker saw run at least one test, by name. */
export type ReportTestFiles = Record<string, { tests: unknown[] }>;

/**
 * The package's test files that ran no test in the mutation run. Stryker counts test results
 * only: a file that fails to load in its sandbox (a path that escapes it, a missing fixture)
 * silently drops out, and every mutant only it covers shows as "no coverage".
 */
export function silentTestFiles(expected: readonly string[], seen: ReportTestFiles): string[] {
  return expected.filter((file) => (seen[file]?.tests.length ?? 0) === 0).sort();
}

/** One folder of a package's mutation scope, as `mutate` in its stryker.config.json names it. */
export interface Scope {
  /** Display name, e.g. `crypto` or `server/auth`. */
  name: string;
  /** Path prefix of the report's file names (relative to the package), e.g. `src/auth/`. */
  prefix: string;
  /** Percentage of valid mutants the tests must kill. */
  target: number;
}

export interface ScopeScore {
  scope: Scope;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  /** Ignored by a disable comment: marked equivalent. */
  equivalent: number;
  /** Ignored because the run skips static mutants (`ignoreStatic`): not tested, not scored. */
  staticNotRun: number;
  compileErrors: number;
  runtimeErrors: number;
  /** killed + timeout ÷ valid, in percent; NaN when the scope has no valid mutant. */
  score: number;
}

export interface MutantLine {
  /** `<package path>/<file>:<line>:<column>` */
  where: string;
  mutator: string;
  status: string;
  replacement: string;
  /** The disable comment's reason for ignored mutants, else undefined. */
  reason?: string;
}

export function scoreScope(files: ReportFiles, scope: Scope): ScopeScore {
  const inScope = Object.fromEntries(Object.entries(files).filter(([name]) => name.startsWith(scope.prefix)));
  const m = calculateMetrics(inScope).metrics;
  const staticNotRun = Object.values(inScope)
    .flatMap((file) => file.mutants)
    .filter((mutant) => mutant.status === "Ignored" && isStaticSkip(mutant.statusReason)).length;
  return {
    scope,
    killed: m.killed,
    timeout: m.timeout,
    survived: m.survived,
    noCoverage: m.noCoverage,
    equivalent: m.ignored - staticNotRun,
    staticNotRun,
    compileErrors: m.compileErrors,
    runtimeErrors: m.runtimeErrors,
    score: m.mutationScore,
  };
}

/** The mutants the tests did not detect (survived or not covered), in file and line order. */
export function undetected(files: ReportFiles, packagePath: string): MutantLine[] {
  return mutantLines(files, packagePath, (status) => status === "Survived" || status === "NoCoverage");
}

/** The mutants a disable comment marks as equivalent, with the comment's reason. */
export function equivalents(files: ReportFiles, packagePath: string): MutantLine[] {
  return mutantLines(files, packagePath, (status, reason) => status === "Ignored" && !isStaticSkip(reason));
}

// Stryker's wording for a static mutant it skipped under `ignoreStatic` (mutant-test-planner.js).
function isStaticSkip(statusReason: string | undefined): boolean {
  return statusReason?.startsWith("Static mutant") ?? false;
}

function mutantLines(files: ReportFiles, packagePath: string, wanted: (status: string, statusReason: string | undefined) => boolean): MutantLine[] {
  const lines: MutantLine[] = [];
  for (const name of Object.keys(files).sort()) {
    const mutants = [...files[name]!.mutants].sort(
      (a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column,
    );
    for (const m of mutants) {
      if (!wanted(m.status, m.statusReason)) continue;
      lines.push({
        where: `${packagePath}/${name}:${m.location.start.line}:${m.location.start.column}`,
        mutator: m.mutatorName,
        status: m.status,
        replacement: m.replacement ?? "",
        reason: m.status === "Ignored" ? ignoredReason(m.statusReason) : undefined,
      });
    }
  }
  return lines;
}

// A disable comment's reason is the mutant's statusReason as written ("Ignored using a comment"
// when the comment gives none, which the summary shows so that it gets one).
function ignoredReason(statusReason: string | undefined): string {
  return statusReason?.trim() || "(no reason given)";
}

export const SUMMARY_START = "<!-- mutation:summary:start (generated by `pnpm test:mutation`; edit outside these markers) -->";
export const SUMMARY_END = "<!-- mutation:summary:end -->";

export interface PackageRun {
  packagePath: string;
  commit: string;
  finishedAt: string;
  wallSeconds: number;
  /** true when every mutant ran (`--full`); false when the incremental file let Stryker reuse results. */
  full: boolean;
  /** The --mutate globs when the run covered part of the package's scope. */
  mutate?: string;
  scores: ScopeScore[];
  undetected: MutantLine[];
  equivalents: MutantLine[];
}

export function summaryMarkdown(runs: PackageRun[]): string {
  const out: string[] = [];
  out.push("| scope | score | target | killed | timed out | survived | no coverage | marked equivalent | static, not run | compile errors |");
  out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const run of runs) {
    for (const s of run.scores) {
      if (s.killed + s.timeout + s.survived + s.noCoverage + s.equivalent + s.staticNotRun + s.compileErrors + s.runtimeErrors === 0) {
        out.push(`| ${s.scope.name} | not run | ≥ ${s.scope.target} % | | | | | | | |`);
        continue;
      }
      const meets = s.score >= s.scope.target ? "✓" : "✗";
      out.push(
        `| ${s.scope.name} | ${formatScore(s.score)} ${meets} | ≥ ${s.scope.target} % | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.noCoverage} | ${s.equivalent} | ${s.staticNotRun} | ${s.compileErrors} |`,
      );
    }
  }
  out.push("");
  for (const run of runs) {
    const kind =
      (run.full ? "full run" : "incremental run (unchanged mutants' results reused)") + (run.mutate ? ` of \`${run.mutate}\` only` : "");
    out.push(
      `- \`${run.packagePath}\`: ${kind} at commit ${run.commit}, finished ${run.finishedAt}, ${formatDuration(run.wallSeconds)} wall time.`,
    );
  }
  for (const run of runs) {
    out.push("", `### Undetected in \`${run.packagePath}\` (${run.undetected.length})`, "");
    listed(out, run.undetected, (m) => `- \`${m.where}\` ${m.mutator} (${m.status}) → \`${oneLine(m.replacement)}\``);
    out.push("", `### Marked equivalent in \`${run.packagePath}\` (${run.equivalents.length})`, "");
    listed(out, run.equivalents, (m) => `- \`${m.where}\` ${m.mutator}: ${m.reason}`);
  }
  return out.join("\n");
}

// Long lists fold (a <details> block) so that the scores stay the first thing a reader sees.
function listed(out: string[], mutants: MutantLine[], line: (m: MutantLine) => string): void {
  if (mutants.length === 0) {
    out.push("None.");
    return;
  }
  const fold = mutants.length > 20;
  if (fold) out.push("<details><summary>the list</summary>", "");
  for (const m of mutants) out.push(line(m));
  if (fold) out.push("", "</details>");
}

function formatScore(score: number): string {
  return Number.isNaN(score) ? "n/a" : `${score.toFixed(1)} %`;
}

function formatDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m === 0 ? `${s} s` : `${m} min ${s} s`;
}

// Replacements can span lines (a mutated block); the list keeps one line per mutant.
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").replaceAll("`", "'");
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

/** Replaces the generated block of MUTATION.md, keeping the hand-written text around it. */
export function replaceSummaryBlock(document: string, block: string): string {
  const generated = `${SUMMARY_START}\n${block}\n${SUMMARY_END}`;
  const start = document.indexOf(SUMMARY_START);
  const end = document.indexOf(SUMMARY_END);
  if (start !== -1 && end > start) return document.slice(0, start) + generated + document.slice(end + SUMMARY_END.length);
  return `${document.trimEnd()}\n\n${generated}\n`;
}
