/**
 * What an `azure_service_principal` registry stores, sealed in `password_ciphertext` like a
 * password: the service principal's tenant, client id and client secret. One JSON document, so the
 * envelope, key rotation and the destruction on delete treat it exactly as they treat a password.
 */
export interface AzureServicePrincipalSecret {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export function serialiseAzureSecret(secret: AzureServicePrincipalSecret): string {
  return JSON.stringify({ tenant_id: secret.tenantId, client_id: secret.clientId, client_secret: secret.clientSecret });
}

/** The stored document; throws (without quoting it) when it is not one this server wrote. */
export function parseAzureSecret(text: string): AzureServicePrincipalSecret {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Never the SyntaxError: V8 quotes the input in its message.
    throw new Error("the stored azure_service_principal credential is not JSON");
  }
  const doc = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof doc.tenant_id === "string" && typeof doc.client_id === "string" && typeof doc.client_secret === "string") {
    return { tenantId: doc.tenant_id, clientId: doc.client_id, clientSecret: doc.client_secret };
  }
  throw new Error("the stored azure_service_principal credential lacks its tenant, client id or secret");
}
