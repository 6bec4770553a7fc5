import type { Cipher } from "@modbox/crypto";
import { credentialContext } from "./credential-context.js";
import type { EncryptionKeyRecord, EncryptionKeyRepository } from "../db/repositories/encryption-keys.js";

/**
 * Key custody, checked before the server serves: every key that sealed a stored password, or
 * that has a recorded check value, must be in the keyring with the same bytes. A lost key file
 * or a wrong MODBOX_ENCRYPTION_KEYS then stops the start with a message naming the keys, instead
 * of a server that reports ready and answers 500 on every stored password.
 */
export class KeyCustodyError extends Error {
  override name = "KeyCustodyError";
}

export type CustodyProblem =
  | { kind: "missing"; keyId: string; sealed: number }
  | { kind: "mismatch"; keyId: string; sealed: number }
  | { kind: "active_retired"; keyId: string };

export interface CustodyAssessment {
  problems: CustodyProblem[];
  /** Keys that check out but have no check value yet: the active key, and keys that sealed rows before key custody existed. */
  unrecorded: string[];
  sealed: Map<string, number>;
  recorded: Map<string, EncryptionKeyRecord>;
}

type CustodyRepository = Pick<EncryptionKeyRepository, "list" | "sealedCounts" | "sampleSealedBy" | "record" | "addEncryptions">;
type CustodyCipher = Pick<Cipher, "activeKeyId" | "keyIds" | "keyCheckValue" | "decrypt">;

/** Compares the database's keys with the keyring. Reads only. */
export async function assessKeyCustody(keys: CustodyRepository, cipher: CustodyCipher): Promise<CustodyAssessment> {
  const sealed = await keys.sealedCounts();
  const recorded = new Map((await keys.list()).map((k) => [k.keyId, k]));
  const configured = new Set(cipher.keyIds);
  const problems: CustodyProblem[] = [];
  const unrecorded: string[] = [];

  const needed = new Set([...sealed.keys(), ...[...recorded.values()].filter((k) => !k.retiredAt).map((k) => k.keyId)]);
  for (const keyId of [...needed].sort()) {
    const count = sealed.get(keyId) ?? 0;
    const record = recorded.get(keyId);
    if (!configured.has(keyId)) {
      problems.push({ kind: "missing", keyId, sealed: count });
    } else if (record) {
      if (record.checkValue !== cipher.keyCheckValue(keyId)) problems.push({ kind: "mismatch", keyId, sealed: count });
    } else if (await opensASample(keys, cipher, keyId)) {
      unrecorded.push(keyId);
    } else {
      problems.push({ kind: "mismatch", keyId, sealed: count });
    }
  }
  const active = recorded.get(cipher.activeKeyId);
  if (active?.retiredAt) problems.push({ kind: "active_retired", keyId: cipher.activeKeyId });
  if (!active && !unrecorded.includes(cipher.activeKeyId)) unrecorded.push(cipher.activeKeyId);
  return { problems, unrecorded, sealed, recorded };
}

/**
 * Checks custody and, only when it holds, records the check values still missing (so the active
 * key is recorded before it seals anything) and counts the self-test's encryptions. On a problem
 * it throws `KeyCustodyError` having written nothing.
 */
export async function enforceKeyCustody(keys: CustodyRepository, cipher: CustodyCipher, now: Date, keySource: string): Promise<void> {
  const assessment = await assessKeyCustody(keys, cipher);
  if (assessment.problems.length > 0) throw new KeyCustodyError(describeCustodyProblems(assessment.problems, keySource));
  for (const keyId of assessment.unrecorded) {
    const stored = await keys.record(keyId, cipher.keyCheckValue(keyId), now);
    // Another process recorded this id first, with other bytes: the two configurations disagree.
    if (stored.checkValue !== cipher.keyCheckValue(keyId)) {
      throw new KeyCustodyError(
        describeCustodyProblems([{ kind: "mismatch", keyId, sealed: assessment.sealed.get(keyId) ?? 0 }], keySource),
      );
    }
  }
  // The self-test encrypted once under every key: those nonces count against the budgets too.
  const recordedNow = cipher.keyIds.filter((id) => assessment.recorded.has(id) || assessment.unrecorded.includes(id));
  await keys.addEncryptions(recordedNow, 1);
}

/**
 * For readiness: the recorded keys (every key that seals, by construction) that this process
 * cannot open. Cheap: one read of a table with a row per key.
 */
export async function unopenableKeys(keys: Pick<EncryptionKeyRepository, "list">, cipher: CustodyCipher): Promise<string[]> {
  const configured = new Set(cipher.keyIds);
  return (await keys.list())
    .filter((k) => !k.retiredAt && (!configured.has(k.keyId) || k.checkValue !== cipher.keyCheckValue(k.keyId)))
    .map((k) => k.keyId);
}

/** The operator's message: which keys, how many passwords each holds, what to do. Never key bytes. */
export function describeCustodyProblems(
  problems: readonly CustodyProblem[],
  keySource: string,
  headline = "Refusing to start: the database holds passwords these encryption keys cannot open. Nothing was written.",
): string {
  const lines = problems.map((p) => {
    switch (p.kind) {
      case "missing":
        return p.sealed > 0
          ? `  - key "${p.keyId}" is not configured; it sealed ${plural(p.sealed)} stored in the database`
          : `  - key "${p.keyId}" is not configured; it has a recorded check value but seals no stored password ` +
              `(if it is no longer needed: npm run keys -- retire ${p.keyId})`;
      case "mismatch":
        return `  - key "${p.keyId}" is configured with other bytes than the key that sealed its ${plural(p.sealed)} (its check value differs)`;
      case "active_retired":
        return `  - key "${p.keyId}" is configured as the active key but was retired; make a new key active`;
    }
  });
  return [
    headline,
    ...lines,
    `Restore the original key(s) in ${keySource} and start again; \`npm run keys -- status\` lists every key.`,
  ].join("\n");
}

function plural(n: number): string {
  return n === 1 ? "1 password" : `${n} passwords`;
}

async function opensASample(keys: CustodyRepository, cipher: CustodyCipher, keyId: string): Promise<boolean> {
  const sample = await keys.sampleSealedBy(keyId);
  if (!sample) return true;
  try {
    cipher.decrypt(sample.passwordCiphertext, credentialContext(sample.workspaceId, sample.id));
  } catch {
    return false;
  }
  return true;
}
