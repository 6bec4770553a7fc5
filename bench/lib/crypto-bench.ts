/**
 * @modbox/crypto against raw node:crypto AES-256-GCM, in this process (no server involved).
 *
 * Both sides do the work a stored credential needs: a random 12-byte IV, AES-256-GCM with
 * associated data and a 16-byte tag, and a text encoding for the database column (base64url).
 * The raw side builds the same AAD bytes per call, as a real caller must (the context is the
 * row's: `{ workspace_id, registry_id }`), but in the cheapest correct way a hand-written caller
 * would: one template string with the key prefix inlined, the two names in their known order and
 * only the values JSON-escaped. No envelope, no key-id parsing, no strict base64, no context
 * validation or sorting, no counters: it is the floor. (Until 2026-11-28 the raw side reused one
 * AAD buffer for every call, which no caller binding a ciphertext to its row can do.) Rounds alternate the two sides to cancel drift; the
 * reported figure is each side's best round (the least disturbed by the machine).
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, randomUUID } from "node:crypto";
import { createCipher, createKeyring, generateKey } from "@modbox/crypto";
import { fakeToken } from "./seed.js";
import { round } from "./stats.js";

export interface CryptoOp {
  /** Operations per second, @modbox/crypto. */
  ours: number;
  /** Operations per second, raw node:crypto. */
  raw: number;
  ratio: number;
}

export interface CryptoResult {
  encrypt: CryptoOp;
  decrypt: CryptoOp;
  opsPerRound: number;
  rounds: number;
  plaintextBytes: number;
  envelopeChars: number;
}

export function runCryptoBench(opsPerRound: number, rounds: number): CryptoResult {
  const { id, key } = generateKey();
  const cipher = createCipher(createKeyring({ keys: [{ id, key }], activeKeyId: id }));
  const secret = createSecretKey(Buffer.from(key));
  const password = fakeToken();
  const context = { workspace_id: "ws-bench", registry_id: randomUUID() };
  const rawAad = (row: { workspace_id: string; registry_id: string }): Buffer =>
    Buffer.from(
      `["modbox/crypto","v1",${JSON.stringify(id)},[["registry_id",${JSON.stringify(row.registry_id)}],["workspace_id",${JSON.stringify(row.workspace_id)}]]]`,
      "utf8",
    );
  if (!rawAad(context).equals(Buffer.from(JSON.stringify(["modbox/crypto", "v1", id, Object.entries(context).sort()]), "utf8"))) {
    throw new Error("crypto bench: the raw AAD differs from @modbox/crypto's");
  }

  const rawEncrypt = (plaintext: string): string => {
    const iv = randomBytes(12);
    const gcm = createCipheriv("aes-256-gcm", secret, iv, { authTagLength: 16 });
    gcm.setAAD(rawAad(context));
    const ct = Buffer.concat([gcm.update(plaintext, "utf8"), gcm.final()]);
    return Buffer.concat([iv, ct, gcm.getAuthTag()]).toString("base64url");
  };
  const rawDecrypt = (text: string): string => {
    const payload = Buffer.from(text, "base64url");
    const gcm = createDecipheriv("aes-256-gcm", secret, payload.subarray(0, 12), { authTagLength: 16 });
    gcm.setAAD(rawAad(context));
    gcm.setAuthTag(payload.subarray(payload.length - 16));
    return Buffer.concat([gcm.update(payload.subarray(12, payload.length - 16)), gcm.final()]).toString("utf8");
  };

  const sealed = cipher.encrypt(password, context);
  const rawSealed = rawEncrypt(password);
  // Each side must open the other's ciphertext: same algorithm, same AAD bytes.
  const ourPayload = sealed.slice(sealed.lastIndexOf(":") + 1);
  if (cipher.decrypt(sealed, context) !== password || rawDecrypt(rawSealed) !== password || rawDecrypt(ourPayload) !== password) {
    throw new Error("crypto bench: a round trip failed");
  }

  const time = (fn: () => void): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) fn();
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  let sink = 0;
  const best = { oursEnc: 0, rawEnc: 0, oursDec: 0, rawDec: 0 };
  // One short warm-up of each so the first round is not the JIT's.
  time(() => (sink += cipher.encrypt(password, context).length));
  time(() => (sink += rawEncrypt(password).length));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0;
    const a = () => (best.oursEnc = Math.max(best.oursEnc, opsPerRound / time(() => (sink += cipher.encrypt(password, context).length))));
    const b = () => (best.rawEnc = Math.max(best.rawEnc, opsPerRound / time(() => (sink += rawEncrypt(password).length))));
    const c = () => (best.oursDec = Math.max(best.oursDec, opsPerRound / time(() => (sink += cipher.decrypt(sealed, context).length))));
    const d = () => (best.rawDec = Math.max(best.rawDec, opsPerRound / time(() => (sink += rawDecrypt(rawSealed).length))));
    if (order) [a, b, c, d].forEach((f) => f());
    else [b, a, d, c].forEach((f) => f());
  }
  if (sink === 0) throw new Error("unreachable");
  return {
    encrypt: { ours: Math.round(best.oursEnc), raw: Math.round(best.rawEnc), ratio: round(best.oursEnc / best.rawEnc) },
    decrypt: { ours: Math.round(best.oursDec), raw: Math.round(best.rawDec), ratio: round(best.oursDec / best.rawDec) },
    opsPerRound,
    rounds,
    plaintextBytes: Buffer.byteLength(password),
    envelopeChars: sealed.length,
  };
}
