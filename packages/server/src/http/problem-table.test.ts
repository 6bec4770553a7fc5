import { describe, expect, it } from "vitest";
import { contractEnum } from "@modbox/testkit/contract";
import { problemTable } from "./problem-table.js";

describe("the problem table", () => {
  it("has a status and title for exactly the codes of the contract", () => {
    const codes = contractEnum("Problem", "code");
    expect(codes.length).toBeGreaterThan(20);
    expect(Object.keys(problemTable).sort()).toEqual([...codes].sort());
  });

  it("answers every code with a 4xx or 5xx status", () => {
    for (const { status } of Object.values(problemTable)) expect(status >= 400 && status <= 599).toBe(true);
  });
});
