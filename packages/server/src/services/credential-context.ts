import type { EncryptionContext } from "@modbox/crypto";

/**
 * What a stored password is bound to: its workspace and registry. A ciphertext copied to another
 * row or workspace then fails to decrypt. Every sealing and opening of a password uses this.
 */
export function credentialContext(workspaceId: string, registryId: string): EncryptionContext {
  return { workspace_id: workspaceId, registry_id: registryId };
}
