import { createCipher, createKeyring, type Cipher } from "@modbox/crypto";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { EncryptionKeyRecord } from "../db/repositories/encryption-keys.js";
import { credentialContext } from "./credential-context.js";
import { assessKeyCustody, describeCustodyProblems, enforceKeyCustody, KeyCustodyError, unopenableKeys } from "./key-custody.js";
import { FIXTURE_TIME } from "@modbox/testkit/fixtures";

const bytes = { k1: randomBytes(32), k2: randomBytes(32), k3: randomBytes(32) };

function cipherOf(ids: (keyof typeof bytes)[], overrides: Partial<Record<keyof typeof bytes, Buffer>> = {}): Cipher {
  return createCipher(createKeyring({ keys: ids.map((id) => ({ id, key: overrides[id] ?? bytes[id] })), activeKeyId: ids[0]! }));
}

/** The custody table and the stored passwords, in memory; records every write. */
function fakeKeys(options: { recorded?: EncryptionKeyRecord[]; sealed?: Record<string, number>; sample?: Record<string, string> } = {}) {
  const recorded = new Map((options.recorded ?? []).map((r) => [r.keyId, r]));
  const writes: string[] = [];
  return {
    writes,
    recorded,
    list: async () => [...recorded.values()],
    sealedCounts: async () => new Map(Object.entries(options.sealed ?? {})),
    sampleSealedBy: async (keyId: string) => {
      const ciphertext = options.sample?.[keyId];
      return ciphertext ? { id: "reg", workspaceId: "ws", passwordCiphertext: ciphertext } : null;
    },
    record: async (keyId: string, checkValue: string, at: Date) => {
      writes.push(`record ${keyId}`);
      if (!recorded.has(keyId)) recorded.set(keyId, { keyId, checkValue, encryptionsReserved: 0, createdAt: at, retiredAt: null });
      return recorded.get(keyId)!;
    },
    addEncryptions: async (keyIds: readonly string[], n: number) => {
      writes.push(`add ${n} to ${keyIds.join(",")}`);
    },
  };
}

const recordOf = (cipher: Cipher, keyId: string, retiredAt: Date | null = null): EncryptionKeyRecord => ({
  keyId,
  checkValue: cipher.keyCheckValue(keyId),
  encryptionsReserved: 10,
  createdAt: FIXTURE_TIME,
  retiredAt,
});

describe("key custody", () => {
  it("holds on a fresh database: records the active key and counts the self-test", async () => {
    const keys = fakeKeys();
    await enforceKeyCustody(keys, cipherOf(["k1", "k2"]), FIXTURE_TIME, "MODBOX_ENCRYPTION_KEYS");
    expect(keys.writes).toEqual(["record k1", "add 1 to k1"]);
  });

  it("refuses a key that sealed passwords and is not configured, naming it and its count, writing nothing", async () => {
    const old = cipherOf(["k1"]);
    const keys = fakeKeys({ recorded: [recordOf(old, "k1")], sealed: { k1: 500 } });

    const err = await enforceKeyCustody(keys, cipherOf(["k2"]), FIXTURE_TIME, "MODBOX_ENCRYPTION_KEYS").catch((e: unknown) => e);

    expect(err).toBeInstanceOf(KeyCustodyError);
    expect((err as Error).message).toBe(
      [
        "Refusing to start: the database holds passwords these encryption keys cannot open. Nothing was written.",
        '  - key "k1" is not configured; it sealed 500 passwords stored in the database',
        "Restore the original key(s) in MODBOX_ENCRYPTION_KEYS and start again; `npm run keys -- status` lists every key.",
      ].join("\n"),
    );
    expect(keys.writes).toEqual([]);
  });

  it("refuses a configured key whose bytes differ from the recorded check value", async () => {
    const keys = fakeKeys({ recorded: [recordOf(cipherOf(["k1"]), "k1")], sealed: { k1: 1 } });
    const impostor = cipherOf(["k1"], { k1: randomBytes(32) });

    const { problems } = await assessKeyCustody(keys, impostor);

    expect(problems).toEqual([{ kind: "mismatch", keyId: "k1", sealed: 1 }]);
    expect(describeCustodyProblems(problems, "X")).toContain('key "k1" is configured with other bytes than the key that sealed its 1 password');
  });

  it("requires a key with a recorded check value even when it seals nothing, unless retired", async () => {
    const old = cipherOf(["k1", "k3"]);
    const keys = fakeKeys({ recorded: [recordOf(old, "k1"), recordOf(old, "k3", FIXTURE_TIME)] });

    const { problems } = await assessKeyCustody(keys, cipherOf(["k2"]));

    expect(problems).toEqual([{ kind: "missing", keyId: "k1", sealed: 0 }]);
    expect(describeCustodyProblems(problems, "X")).toContain("npm run keys -- retire k1");
  });

  it("proves a key that sealed rows before custody existed by opening one of them, then records it", async () => {
    const legacy = cipherOf(["k1"]);
    const sample = legacy.encrypt("pw", credentialContext("ws", "reg"));
    const keys = fakeKeys({ sealed: { k1: 3 }, sample: { k1: sample } });

    await enforceKeyCustody(keys, cipherOf(["k2", "k1"]), FIXTURE_TIME, "X");

    expect(keys.writes).toEqual(["record k1", "record k2", "add 1 to k2,k1"]);
  });

  it("refuses an unrecorded key that cannot open its own sample", async () => {
    const sample = cipherOf(["k1"]).encrypt("pw", credentialContext("ws", "reg"));
    const keys = fakeKeys({ sealed: { k1: 3 }, sample: { k1: sample } });

    const { problems } = await assessKeyCustody(keys, cipherOf(["k1"], { k1: randomBytes(32) }));

    expect(problems).toEqual([{ kind: "mismatch", keyId: "k1", sealed: 3 }]);
  });

  it("refuses a retired key as the active key", async () => {
    const cipher = cipherOf(["k1"]);
    const keys = fakeKeys({ recorded: [recordOf(cipher, "k1", FIXTURE_TIME)] });

    const { problems } = await assessKeyCustody(keys, cipher);

    expect(problems).toEqual([{ kind: "active_retired", keyId: "k1" }]);
  });

  it("refuses when another process recorded the same key id with other bytes first", async () => {
    const keys = fakeKeys();
    const theirs = cipherOf(["k1"], { k1: randomBytes(32) });
    const record = keys.record;
    keys.record = async (keyId, _checkValue, at) => record(keyId, theirs.keyCheckValue(keyId), at);

    await expect(enforceKeyCustody(keys, cipherOf(["k1"]), FIXTURE_TIME, "X")).rejects.toThrow(/"k1" is configured with other bytes/);
  });

  it("readiness lists the recorded keys this process cannot open", async () => {
    const mine = cipherOf(["k1"]);
    const keys = fakeKeys({ recorded: [recordOf(mine, "k1"), recordOf(cipherOf(["k2"]), "k2"), recordOf(cipherOf(["k3"]), "k3", FIXTURE_TIME)] });

    expect(await unopenableKeys(keys, mine)).toEqual(["k2"]);
    expect(await unopenableKeys(keys, cipherOf(["k1", "k2"]))).toEqual([]);
    expect(await unopenableKeys(keys, cipherOf(["k1", "k2"], { k2: randomBytes(32) }))).toEqual(["k2"]);
  });
});

describe("key custody: what holds", () => {
  it("a recorded key with the same bytes holds: nothing recorded again, the self-test counted", async () => {
    const cipher = cipherOf(["k1"]);
    const keys = fakeKeys({ recorded: [recordOf(cipher, "k1")], sealed: { k1: 5 } });

    await enforceKeyCustody(keys, cipher, FIXTURE_TIME, "X");

    expect(keys.writes).toEqual(["add 1 to k1"]);
  });

  it("an active key that sealed rows before custody existed is recorded once", async () => {
    const cipher = cipherOf(["k1"]);
    const sample = cipher.encrypt("pw", credentialContext("ws", "reg"));
    const keys = fakeKeys({ sealed: { k1: 2 }, sample: { k1: sample } });

    expect(await assessKeyCustody(keys, cipher)).toMatchObject({ problems: [], unrecorded: ["k1"] });
    await enforceKeyCustody(keys, cipher, FIXTURE_TIME, "X");
    expect(keys.writes).toEqual(["record k1", "add 1 to k1"]);
  });

  it("a key whose sealed rows are gone by the time one is sampled holds, and is recorded", async () => {
    const keys = fakeKeys({ sealed: { k2: 1 } });

    const { problems, unrecorded } = await assessKeyCustody(keys, cipherOf(["k1", "k2"]));

    expect(problems).toEqual([]);
    expect(unrecorded).toEqual(["k2", "k1"]);
  });
});

describe("key custody: what the operator reads", () => {
  it("names the problem keys in key id order", async () => {
    const keys = fakeKeys({ sealed: { k3: 1, k1: 2 } });

    const { problems } = await assessKeyCustody(keys, cipherOf(["k2"]));

    expect(problems).toEqual([
      { kind: "missing", keyId: "k1", sealed: 2 },
      { kind: "missing", keyId: "k3", sealed: 1 },
    ]);
  });

  it("spells out each kind of problem, one line each, a single password in the singular", () => {
    const message = describeCustodyProblems(
      [
        { kind: "missing", keyId: "k1", sealed: 1 },
        { kind: "missing", keyId: "k2", sealed: 0 },
        { kind: "mismatch", keyId: "k3", sealed: 1 },
        { kind: "mismatch", keyId: "k4", sealed: 2 },
        { kind: "active_retired", keyId: "k5" },
      ],
      "MODBOX_ENCRYPTION_KEYS",
      "Headline.",
    );

    expect(message.split("\n")).toEqual([
      "Headline.",
      '  - key "k1" is not configured; it sealed 1 password stored in the database',
      '  - key "k2" is not configured; it has a recorded check value but seals no stored password (if it is no longer needed: npm run keys -- retire k2)',
      '  - key "k3" is configured with other bytes than the key that sealed its 1 password (its check value differs)',
      '  - key "k4" is configured with other bytes than the key that sealed its 2 passwords (its check value differs)',
      '  - key "k5" is configured as the active key but was retired; make a new key active',
      "Restore the original key(s) in MODBOX_ENCRYPTION_KEYS and start again; `npm run keys -- status` lists every key.",
    ]);
  });

  it("a key recorded first by another process with other bytes: a KeyCustodyError counting the passwords it seals", async () => {
    const theirs = cipherOf(["k1"], { k1: randomBytes(32) });
    const fresh = fakeKeys();
    const legacy = fakeKeys({ sealed: { k1: 3 }, sample: { k1: cipherOf(["k1"]).encrypt("pw", credentialContext("ws", "reg")) } });
    for (const keys of [fresh, legacy]) {
      const record = keys.record;
      keys.record = async (keyId, _checkValue, at) => record(keyId, theirs.keyCheckValue(keyId), at);
    }

    await expect(enforceKeyCustody(fresh, cipherOf(["k1"]), FIXTURE_TIME, "X")).rejects.toMatchObject({
      name: "KeyCustodyError",
      message: expect.stringContaining('  - key "k1" is configured with other bytes than the key that sealed its 0 passwords (its check value differs)\n'),
    });
    await expect(enforceKeyCustody(legacy, cipherOf(["k1"]), FIXTURE_TIME, "X")).rejects.toThrow(
      '  - key "k1" is configured with other bytes than the key that sealed its 3 passwords (its check value differs)\n',
    );
  });
});
