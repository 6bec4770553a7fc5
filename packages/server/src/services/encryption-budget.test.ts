import { describe, expect, it } from "vitest";
import type { ReserveOutcome } from "../db/repositories/encryption-keys.js";
import { createEncryptionBudget } from "./encryption-budget.js";

/** A key row in memory, reserving as the repository does: never past `max`. */
function fakeKeys(initial: { reserved: number; retired?: boolean } = { reserved: 0 }) {
  const state = { ...initial, calls: 0 };
  return {
    state,
    async reserve(_keyId: string, wanted: number, max: number): Promise<ReserveOutcome> {
      state.calls++;
      await new Promise((r) => setTimeout(r, 1));
      if (state.retired) return { outcome: "retired" };
      if (state.reserved >= max) return { outcome: "exhausted" };
      const granted = Math.min(wanted, max - state.reserved);
      state.reserved += granted;
      return { outcome: "granted", granted, reservedTotal: state.reserved };
    },
  };
}

describe("encryption budget", () => {
  it("reserves a block per round trip, shared by concurrent callers", async () => {
    const keys = fakeKeys();
    const budget = createEncryptionBudget({ keys, keyId: "k1", blockSize: 10, onWarning: () => {} });

    await Promise.all(Array.from({ length: 25 }, () => budget.take()));

    expect(keys.state.calls).toBe(3);
    expect(keys.state.reserved).toBe(30);
  });

  it("takes more than a block at once when asked (a rotation batch)", async () => {
    const keys = fakeKeys();
    const budget = createEncryptionBudget({ keys, keyId: "k1", blockSize: 10, onWarning: () => {} });

    await budget.take(25);

    expect(keys.state.reserved).toBe(25);
  });

  it("spends the last encryptions of the key, then refuses with encryption_key_unavailable", async () => {
    const keys = fakeKeys({ reserved: 97 });
    const budget = createEncryptionBudget({ keys, keyId: "k1", blockSize: 10, max: 100, onWarning: () => {} });

    for (let i = 0; i < 3; i++) await budget.take();
    await expect(budget.take()).rejects.toMatchObject({ code: "encryption_key_unavailable" });
    expect(keys.state.reserved).toBe(100);
  });

  it("refuses a retired key", async () => {
    const budget = createEncryptionBudget({ keys: fakeKeys({ reserved: 0, retired: true }), keyId: "k1", onWarning: () => {} });

    await expect(budget.take()).rejects.toMatchObject({ code: "encryption_key_unavailable", detail: expect.stringContaining("retired") });
  });

  it("warns once when the reserved total reaches the warning threshold", async () => {
    const warnings: [string, number][] = [];
    const keys = fakeKeys({ reserved: 45 });
    const budget = createEncryptionBudget({
      keys,
      keyId: "k1",
      blockSize: 10,
      max: 100,
      warnAt: 50,
      onWarning: (keyId, total) => warnings.push([keyId, total]),
    });

    for (let i = 0; i < 30; i++) await budget.take();

    expect(warnings).toEqual([["k1", 55]]);
  });
});
