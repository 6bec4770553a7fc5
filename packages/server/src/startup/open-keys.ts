import { createCipher, type Cipher, type Keyring } from "@modbox/crypto";
import type { Logger } from "pino";
import type { Db } from "../db/client.js";
import { createEncryptionKeyRepository } from "../db/repositories/encryption-keys.js";
import { createEncryptionBudget, type EncryptionBudget } from "../services/encryption-budget.js";
import { enforceKeyCustody } from "../services/key-custody.js";

/**
 * The cipher a server may serve with: self-tested, checked against every key the database says
 * sealed a password (throws `KeyCustodyError` otherwise, having written nothing), with the
 * active key recorded and its nonce budget counted in the database.
 *
 * @param keySource - how the operator configured the keys, for the refusal message.
 */
export async function openKeys(
  db: Db,
  keyring: Keyring,
  logger: Logger,
  keySource: string,
): Promise<{ cipher: Cipher; budget: EncryptionBudget }> {
  const keys = createEncryptionKeyRepository(db);
  const cipher = createCipher(keyring);
  cipher.selfTest();
  await enforceKeyCustody(keys, cipher, new Date(), keySource);
  const budget = createEncryptionBudget({
    keys,
    keyId: cipher.activeKeyId,
    onWarning: (keyId, reserved) =>
      logger.warn(
        { keyId, reserved },
        "the active encryption key has used half of its nonce budget (2^32 encryptions): make a new key active and run `keys rotate`",
      ),
  });
  return { cipher, budget };
}
