/**
 * `npm run keys -- <command>`: the encryption keys of stored passwords: status, rotation to the
 * active key, retirement. Reads the same environment as the server.
 */
import { parseArgs } from "node:util";
import { MAX_ENCRYPTIONS_PER_KEY, DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD, createCipher, formatKeyringSpec, generateKey, type Cipher } from "@modbox/crypto";
import { openCliDatabase, runCommandLine } from "./cli-support.js";
import { loadConfig, type Config } from "./config.js";
import type { DatabaseHandle } from "./db/client.js";
import { createCredentialRotationRepository } from "./db/repositories/credential-rotation.js";
import { createEncryptionKeyRepository, type EncryptionKeyRepository } from "./db/repositories/encryption-keys.js";
import { createEncryptionBudget } from "./services/encryption-budget.js";
import { assessKeyCustody, describeCustodyProblems, enforceKeyCustody } from "./services/key-custody.js";
import { DEFAULT_ROTATION_BATCH, rotateToActiveKey } from "./services/key-rotation.js";
import { addKeyToFile, keySource, readKeyring, removeKeyFromFile } from "./startup/encryption-keys.js";

const HELP = `Usage: npm run keys -- <command> [options]

Commands:
  status [--json]      Every key: active or decrypt-only, whether its bytes match the ones that
                       sealed the stored passwords, how many passwords it seals, its encryptions
                       against the budget of 2^32. Exit 1 when stored passwords need a key that
                       is missing or different.
  rotate [--batch-size <n>]
                       Re-encrypt every stored password not on the active key, in batches of
                       <n> (default ${DEFAULT_ROTATION_BATCH}), each its own transaction. Resumable: run it again after
                       an interruption. On PostgreSQL it runs while the servers serve.
  retire <key-id>      Mark a key retired once no stored password uses it (run rotate first);
                       it may then leave the configuration. The embedded default also drops it
                       from the data directory's key file.
  add                  Embedded default only: generate a key into the data directory's key file
                       as the new active key (at the next start); the others stay to decrypt.
  generate             Print a new MODBOX_ENCRYPTION_KEYS entry (<id>:<base64 of 32 bytes>).

The embedded database serves one process at a time: stop the server before status, rotate and
retire on it. See "Key rotation" in the README for the whole procedure.
`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      "batch-size": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  if (command === "generate") {
    process.stdout.write(`${formatKeyringSpec([generateKey()])}\n`);
    return 0;
  }
  const config = loadConfig(process.env);
  if (command === "add") return add(config);
  if (!["status", "rotate", "retire"].includes(command)) return usage(`unknown command ${command}`);

  const batchSize = Number(values["batch-size"] ?? DEFAULT_ROTATION_BATCH);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000) return usage("--batch-size must be an integer from 1 to 5000");
  if (command === "retire" && !rest[0]) return usage("retire needs a key id");

  const keyring = await readKeyring(config);
  const { database, close } = await openCliDatabase(config, `modbox keys ${command}`);
  try {
    const keys = createEncryptionKeyRepository(database.db);
    const cipher = keyring ? createCipher(keyring) : undefined;
    switch (command) {
      case "status":
        return await status(keys, cipher, config, values.json ?? false);
      case "rotate":
        if (!cipher) return fail(`No encryption keys are configured (${keySource(config)}).`);
        return await rotate(database, keys, cipher, config, batchSize);
      default:
        return await retire(keys, cipher, config, rest[0]!);
    }
  } finally {
    await close();
  }
}

async function status(keys: EncryptionKeyRepository, cipher: Cipher | undefined, config: Config, json: boolean): Promise<number> {
  const recorded = new Map((await keys.list()).map((k) => [k.keyId, k]));
  const assessment = cipher ? await assessKeyCustody(keys, cipher) : undefined;
  const sealed = assessment?.sealed ?? (await keys.sealedCounts());
  const problems = assessment?.problems ?? [...sealed.keys()].map((keyId) => ({ kind: "missing" as const, keyId, sealed: sealed.get(keyId)! }));
  const ids = [...new Set([...(cipher?.keyIds ?? []), ...recorded.keys(), ...sealed.keys()])];
  const rows = ids.map((keyId) => {
    const record = recorded.get(keyId);
    const configured = cipher?.keyIds.includes(keyId) ?? false;
    const check = !configured ? "unknown" : !record ? "not recorded" : record.checkValue === cipher!.keyCheckValue(keyId) ? "ok" : "different key";
    const encryptions = record?.encryptionsReserved ?? 0;
    return {
      key_id: keyId,
      role: cipher?.activeKeyId === keyId ? "active" : configured ? "decrypt-only" : "not configured",
      check,
      passwords: sealed.get(keyId) ?? 0,
      encryptions,
      budget_used: encryptions / MAX_ENCRYPTIONS_PER_KEY,
      budget_warning: encryptions >= DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD,
      retired_at: record?.retiredAt?.toISOString() ?? null,
    };
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ active_key_id: cipher?.activeKeyId ?? null, keys: rows, problems }, null, 2)}\n`);
  } else {
    process.stdout.write(`Keys from ${keySource(config)}; active: ${cipher?.activeKeyId ?? "none"}\n\n`);
    const table = [
      ["key id", "role", "check value", "passwords", "encryptions", "budget used", "retired"],
      ...rows.map((r) => [
        r.key_id,
        r.role,
        r.check,
        String(r.passwords),
        String(r.encryptions),
        `${(r.budget_used * 100).toFixed(6)} %${r.budget_warning ? " (WARNING: past half, rotate)" : ""}`,
        r.retired_at ?? "-",
      ]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
    const waiting = rows.filter((r) => r.role !== "active" && r.passwords > 0).reduce((n, r) => n + r.passwords, 0);
    if (waiting > 0) process.stdout.write(`\n${waiting} password(s) are on keys other than the active one: \`npm run keys -- rotate\` re-encrypts them.\n`);
  }
  if (problems.length > 0) {
    const headline = "A server with these keys would refuse to start: the database holds passwords they cannot open.";
    process.stderr.write(`\n${describeCustodyProblems(problems, keySource(config), headline)}\n`);
    return 1;
  }
  return 0;
}

async function rotate(database: DatabaseHandle, keys: EncryptionKeyRepository, cipher: Cipher, config: Config, batchSize: number): Promise<number> {
  const assessment = await assessKeyCustody(keys, cipher);
  if (assessment.problems.length > 0) {
    const headline = "Refusing to rotate: the database holds passwords these encryption keys cannot open. Nothing was written.";
    return fail(describeCustodyProblems(assessment.problems, keySource(config), headline));
  }
  // On a shared PostgreSQL every server must be able to read what rotation writes: a key no server
  // has started with may be missing from their configuration (a typo here, or instances not rolled).
  if (database.kind === "postgres" && !assessment.recorded.has(cipher.activeKeyId)) {
    return fail(
      `Refusing to rotate: no server has started with the active key "${cipher.activeKeyId}" yet. ` +
        "Add it to every instance's MODBOX_ENCRYPTION_KEYS, make it active, roll the instances, then rotate.",
    );
  }
  await enforceKeyCustody(keys, cipher, new Date(), keySource(config));
  const budget = createEncryptionBudget({
    keys,
    keyId: cipher.activeKeyId,
    onWarning: (keyId, reserved) => process.stderr.write(`warning: key ${keyId} has reserved ${reserved} encryptions, past half of its budget\n`),
  });
  const toDo = [...assessment.sealed].filter(([id]) => id !== cipher.activeKeyId).reduce((n, [, c]) => n + c, 0);
  process.stderr.write(`Re-encrypting ${toDo} password(s) to key ${cipher.activeKeyId}, ${batchSize} per batch\n`);
  let lastReport = 0;
  const summary = await rotateToActiveKey(
    { rotation: createCredentialRotationRepository(database.db), cipher, budget },
    {
      batchSize,
      onProgress: (p) => {
        if (p.elapsedMs - lastReport < 1000) return;
        lastReport = p.elapsedMs;
        process.stderr.write(`  ${p.rotated} re-encrypted, ${p.failed} failed (pass ${p.pass}, ${(p.elapsedMs / 1000).toFixed(1)} s)\n`);
      },
    },
  );
  const seconds = summary.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(summary.rotated / seconds) : summary.rotated;
  process.stdout.write(
    `Re-encrypted ${summary.rotated} password(s) to key ${cipher.activeKeyId} in ${seconds.toFixed(1)} s (${rate}/s); ` +
      `${summary.failedIds.length} could not be opened; ${summary.remaining} left on other keys.\n`,
  );
  if (summary.failedIds.length > 0) {
    process.stderr.write(`Registries whose password could not be opened (left as they were): ${summary.failedIds.slice(0, 20).join(", ")}${summary.failedIds.length > 20 ? ", …" : ""}\n`);
  }
  if (summary.remaining > summary.failedIds.length) {
    process.stderr.write("Some passwords were being written by the API during every pass: run `keys rotate` again.\n");
  }
  return summary.remaining === 0 ? 0 : 1;
}

async function retire(keys: EncryptionKeyRepository, cipher: Cipher | undefined, config: Config, keyId: string): Promise<number> {
  if (cipher?.activeKeyId === keyId) return fail(`Refusing to retire "${keyId}": it is the active key of this configuration. Make another key active first.`);
  const result = await keys.retire(keyId, new Date());
  switch (result.outcome) {
    case "in_use":
      return fail(`Refusing to retire "${keyId}": ${result.sealed} stored password(s) are still sealed by it. Run \`npm run keys -- rotate\` first.`);
    case "unrecorded":
      return fail(`No key "${keyId}" is recorded in this database (\`npm run keys -- status\` lists them).`);
    case "already_retired":
      process.stderr.write(`Key "${keyId}" was already retired.\n`);
      break;
    case "retired":
      process.stderr.write(`Retired key "${keyId}": no stored password uses it, and it will seal nothing more.\n`);
  }
  if (!config.encryption.keysSpec) {
    if (await removeKeyFromFile(config, keyId)) process.stderr.write(`Removed it from ${keySource(config)}.\n`);
  } else {
    process.stderr.write("Remove it from MODBOX_ENCRYPTION_KEYS on every instance at your next roll.\n");
  }
  return 0;
}

async function add(config: Config): Promise<number> {
  if (config.encryption.keysSpec) {
    return fail(
      "Keys come from MODBOX_ENCRYPTION_KEYS: add the new key there, on every instance. " +
        "`npm run keys -- generate` prints an entry; see \"Key rotation\" in the README.",
    );
  }
  const key = await addKeyToFile(config);
  process.stderr.write(
    `Added key "${key.id}" first in ${keySource(config)}: it is the active key from the next start; ` +
      "the other keys stay to decrypt. Then, with the server stopped: npm run keys -- rotate\n",
  );
  return 0;
}

function fail(message: string): number {
  process.stderr.write(`${message}\n`);
  return 1;
}

function usage(message: string): number {
  process.stderr.write(`${message}\n\n${HELP}`);
  return 2;
}

runCommandLine(main);
