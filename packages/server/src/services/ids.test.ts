import { describe, expect, it } from "vitest";
import { uuidv7 } from "./ids.js";

describe("uuidv7", () => {
  it("is a version 7, variant 10 UUID", () => {
    expect(uuidv7()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("sorts by the millisecond it was made in", () => {
    const ids = [3, 1, 2].map((offset) => uuidv7(1_700_000_000_000 + offset));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });

  it("is random after the timestamp, within one millisecond too", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => uuidv7(1_700_000_000_000).slice(14)));
    expect(ids.size).toBe(1000);
  });

  it("encodes the timestamp in the first 48 bits", () => {
    const at = Date.UTC(2026, 10, 28, 12, 0, 0);
    const id = uuidv7(at);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(at);
    expect(uuidv7(0).slice(0, 14)).toBe("00000000-0000-");
  });
});
