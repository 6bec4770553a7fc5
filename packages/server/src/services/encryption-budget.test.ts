import { MAX_ENCRYPTIONS_PER_KEY } from "@modbox/crypto";
import { describe, expect, it } from "vitest";
import type { ReserveOutcome } from "../db/repositories/encryption-keys.js";
import { createEncryptionBudget } from "./encryption-budget.js";

/** A key row in memory, reserving as the repository does: never past `max`. */
function fakeKeys(initial: { reserved: number; retired?: boolean; unrecorded?: boolean } = { reserved: 0 }) {
  const state = { ...initial, calls: 0 };
  return {
    state,
    async reserve(_keyId: string, wanted: number, max: number): Promise<ReserveOutcome> {
      state.calls++;
      await new Promise((r) => setTimeout(r, 1));
      if (state.unrecorded) return { outcome: "unrecorded" };
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

describe("encryption budget: thresholds and refills", () => {
  it("warns at the first reservation that reaches the threshold exactly, not before", async () => {
    const warnings: [string, number][] = [];
    const keys = fakeKeys({ reserved: 30 });
    const budget = createEncryptionBudget({ keys, keyId: "k1", blockSize: 10, max: 100, warnAt: 50, onWarning: (keyId, total) => warnings.push([keyId, total]) });

    for (let i = 0; i < 30; i++) await budget.take();

    expect(warnings).toEqual([["k1", 50]]);
  });

  it("tops up only what the encryptions left in hand do not cover", async () => {
    const keys = fakeKeys();
    const budget = createEncryptionBudget({ keys, keyId: "k1", blockSize: 10, onWarning: () => {} });

    await budget.take(1);
    await budget.take(25);

    // 10 for the first, then 25 - 9 left in hand = 16 more.
    expect(keys.state).toMatchObject({ calls: 2, reserved: 26 });
  });
});

describe("encryption budget: refusals", () => {
  const refusal = (why: string) => ({
    code: "encryption_key_unavailable",
    detail: `The active encryption key ${why}, so no password can be stored. The operator must make a new key active (see "Key rotation" in the README).`,
  });

  it.each([
    [{ reserved: MAX_ENCRYPTIONS_PER_KEY }, `has reached its limit of ${MAX_ENCRYPTIONS_PER_KEY} encryptions`],
    [{ reserved: 0, retired: true }, "was retired"],
    [{ reserved: 0, unrecorded: true }, "is not recorded in the database's key custody table"],
  ])("a key %j: the detail says it %s", async (state, why) => {
    const budget = createEncryptionBudget({ keys: fakeKeys(state), keyId: "k1", onWarning: () => {} });

    await expect(budget.take()).rejects.toMatchObject(refusal(why));
  });
});
