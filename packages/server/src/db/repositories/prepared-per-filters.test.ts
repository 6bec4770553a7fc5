import { describe, expect, it } from "vitest";
import { preparedPerFilters } from "./prepared-per-filters.js";

/** Every combination of three filters, in counting order. */
const COMBINATIONS = Array.from({ length: 8 }, (_, n) => [Boolean(n & 4), Boolean(n & 2), Boolean(n & 1)] as const);

/** `preparedPerFilters` over a `prepare` that records its calls and answers a new object each time. */
function recorded() {
  const calls: (readonly boolean[])[] = [];
  const statementFor = preparedPerFilters((present) => {
    calls.push(present);
    return { filters: [...present] };
  });
  return { calls, statementFor };
}

describe("preparedPerFilters", () => {
  it("prepares a combination's statement on first use and answers that same one after", () => {
    const { calls, statementFor } = recorded();

    const first = statementFor([true, false, true]);
    const again = statementFor([true, false, true]);

    expect(again).toBe(first);
    expect(first).toStrictEqual({ filters: [true, false, true] });
    expect(calls).toStrictEqual([[true, false, true]]);
  });

  it("prepares nothing before a combination is used", () => {
    const { calls } = recorded();

    expect(calls).toStrictEqual([]);
  });

  it("keeps each combination of filters apart: one statement each, prepared once", () => {
    const { calls, statementFor } = recorded();

    const statements = COMBINATIONS.map((present) => statementFor(present));
    const again = [...COMBINATIONS].reverse().map((present) => statementFor(present));

    expect(statements.map((s) => s.filters)).toStrictEqual(COMBINATIONS.map((c) => [...c]));
    expect(new Set(statements).size).toBe(8);
    expect(again).toStrictEqual([...statements].reverse());
    again.forEach((statement, i) => expect(statement).toBe(statements[7 - i]));
    expect(calls).toStrictEqual(COMBINATIONS);
  });

  it("keeps separate caches for separate lists", () => {
    const a = recorded();
    const b = recorded();

    a.statementFor([true, true, false]);
    b.statementFor([true, true, false]);

    expect(a.calls).toStrictEqual([[true, true, false]]);
    expect(b.calls).toStrictEqual([[true, true, false]]);
  });
});
