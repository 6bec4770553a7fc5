import { describe, expect, it } from "vitest";
import {
  equivalents,
  replaceSummaryBlock,
  scoreScope,
  summaryMarkdown,
  SUMMARY_END,
  SUMMARY_START,
  undetected,
  type ReportFiles,
} from "./summary.js";

type Status = ReportFiles[string]["mutants"][number]["status"];

function mutant(id: number, status: Status, line: number, statusReason?: string) {
  return {
    id: String(id),
    mutatorName: "ConditionalExpression",
    replacement: "true",
    status,
    statusReason,
    location: { start: { line, column: 3 }, end: { line, column: 9 } },
  };
}

// Two folders: auth has 3 killed, 1 timed out, 1 survived, 1 not covered, 1 compile error and
// 2 ignored (one marked equivalent, one static and skipped); http has 1 killed. Scores count killed + timed out over valid mutants only.
const files: ReportFiles = {
  "src/auth/token.ts": {
    language: "typescript",
    source: "",
    mutants: [
      mutant(1, "Killed", 4),
      mutant(2, "Killed", 5),
      mutant(3, "Survived", 12),
      mutant(4, "NoCoverage", 7),
      mutant(5, "CompileError", 8),
      mutant(6, "Timeout", 9),
      mutant(7, "Killed", 10),
      mutant(8, "Ignored", 11, "the cache only saves a query"),
      mutant(10, "Ignored", 2, 'Static mutant (and "ignoreStatic" was enabled)'),
    ],
  },
  "src/http/app.ts": { language: "typescript", source: "", mutants: [mutant(9, "Killed", 1)] },
};

describe("scoreScope", () => {
  it("scores one folder's mutants only: detected ÷ valid, with compile errors and ignored mutants left out", () => {
    const auth = scoreScope(files, { name: "server/auth", prefix: "src/auth/", target: 90 });
    expect(auth).toMatchObject({ killed: 3, timeout: 1, survived: 1, noCoverage: 1, equivalent: 1, staticNotRun: 1, compileErrors: 1 });
    expect(auth.score).toBeCloseTo((4 / 6) * 100, 6);
    expect(scoreScope(files, { name: "server/http", prefix: "src/http/", target: 80 }).score).toBe(100);
  });

  it("shows a folder the run did not mutate as not run, not as 0 %", () => {
    const scores = [scoreScope(files, { name: "server/services", prefix: "src/services/", target: 90 })];
    const text = summaryMarkdown([
      { packagePath: "packages/server", commit: "c", finishedAt: "t", wallSeconds: 1, full: true, mutate: "src/auth/**/*.ts", scores, undetected: [], equivalents: [] },
    ]);
    expect(text).toContain("| server/services | not run | ≥ 90 % |");
    expect(text).toContain("full run of `src/auth/**/*.ts` only at commit c");
  });
});

describe("undetected and equivalents", () => {
  it("lists survived and uncovered mutants in line order, with the package path", () => {
    expect(undetected(files, "packages/server").map((m) => [m.where, m.status])).toEqual([
      ["packages/server/src/auth/token.ts:7:3", "NoCoverage"],
      ["packages/server/src/auth/token.ts:12:3", "Survived"],
    ]);
  });

  it("lists mutants ignored by a disable comment with its reason, and not the static ones a run skipped", () => {
    expect(equivalents(files, "packages/server")).toEqual([
      {
        where: "packages/server/src/auth/token.ts:11:3",
        mutator: "ConditionalExpression",
        status: "Ignored",
        replacement: "true",
        reason: "the cache only saves a query",
      },
    ]);
  });
});

describe("summaryMarkdown", () => {
  it("marks a scope under its target and lists every undetected mutant", () => {
    const scores = [scoreScope(files, { name: "server/auth", prefix: "src/auth/", target: 90 })];
    const text = summaryMarkdown([
      {
        packagePath: "packages/server",
        commit: "abc1234",
        finishedAt: "2026-11-29 23:00 UTC",
        wallSeconds: 125,
        full: true,
        scores,
        undetected: undetected(files, "packages/server"),
        equivalents: equivalents(files, "packages/server"),
      },
    ]);
    expect(text).toContain("| server/auth | 66.7 % ✗ | ≥ 90 % | 3 | 1 | 1 | 1 | 1 | 1 | 1 |");
    expect(text).toContain("full run at commit abc1234, finished 2026-11-29 23:00 UTC, 2 min 5 s wall time");
    expect(text).toContain("- `packages/server/src/auth/token.ts:12:3` ConditionalExpression (Survived) → `true`");
    expect(text).toContain("- `packages/server/src/auth/token.ts:11:3` ConditionalExpression: the cache only saves a query");
  });
});

describe("summaryMarkdown's lists", () => {
  it("folds a list longer than 20 mutants into a <details> block, and says None for an empty one", () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ where: `f.ts:${i + 1}:1`, mutator: "StringLiteral", status: "Survived", replacement: '""' }));
    const text = summaryMarkdown([
      { packagePath: "packages/x", commit: "c", finishedAt: "t", wallSeconds: 1, full: true, scores: [], undetected: many, equivalents: [] },
    ]);
    expect(text).toMatch(/### Undetected in `packages\/x` \(21\)\n\n<details><summary>the list<\/summary>\n\n- `f.ts:1:1`[^]*- `f.ts:21:1`[^]*<\/details>/);
    expect(text).toContain("### Marked equivalent in `packages/x` (0)\n\nNone.");
  });
});

describe("replaceSummaryBlock", () => {
  it("replaces only the generated block, keeping the hand-written text on both sides", () => {
    const before = `# Mutation testing\n\nintro\n\n${SUMMARY_START}\nold\n${SUMMARY_END}\n\nafter\n`;
    expect(replaceSummaryBlock(before, "new")).toBe(`# Mutation testing\n\nintro\n\n${SUMMARY_START}\nnew\n${SUMMARY_END}\n\nafter\n`);
  });

  it("appends the block to a document that has none", () => {
    expect(replaceSummaryBlock("# Mutation testing\n", "new")).toBe(`# Mutation testing\n\n${SUMMARY_START}\nnew\n${SUMMARY_END}\n`);
  });
});
