import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OPENAPI_SPEC_PATH } from "../app.js";
import { problemTable } from "./problem-table.js";

/**
 * The enum of `Problem.code` in openapi.yaml, read by its layout: the `code:` property of the
 * `Problem` schema, then its `enum:` list. (The type `ProblemCode` is generated from the same
 * enum, so the table cannot miss a code at compile time; this proves it against the file itself.)
 */
function contractProblemCodes(): string[] {
  const lines = readFileSync(OPENAPI_SPEC_PATH, "utf8").split("\n");
  const schema = lines.findIndex((line) => /^ {4}Problem:\s*$/.test(line));
  const code = lines.findIndex((line, i) => i > schema && /^ {8}code:\s*$/.test(line));
  const list = lines.findIndex((line, i) => i > code && /^ {10}enum:\s*$/.test(line));
  expect([schema, code, list].every((i) => i >= 0)).toBe(true);
  const codes: string[] = [];
  for (const line of lines.slice(list + 1)) {
    const item = /^ {12}- ([a-z_]+)\s*$/.exec(line);
    if (!item) break;
    codes.push(item[1]!);
  }
  return codes;
}

describe("the problem table", () => {
  it("has a status and title for exactly the codes of the contract", () => {
    const codes = contractProblemCodes();
    expect(codes.length).toBeGreaterThan(20);
    expect(Object.keys(problemTable).sort()).toEqual([...codes].sort());
  });

  it("answers every code with a 4xx or 5xx status", () => {
    for (const { status } of Object.values(problemTable)) expect(status >= 400 && status <= 599).toBe(true);
  });
});
