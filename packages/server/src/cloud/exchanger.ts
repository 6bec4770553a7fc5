import type { ExchangedToken } from "./exchange-cache.js";

/** Exchanges one cloud registry's stored credential for a short-lived registry token. */
export interface CredentialExchanger {
  /** @throws ExchangeError with the provider's reason (never a secret) when the provider refuses. */
  exchange(request: { workspaceId: string; registryId: string; server: string; secret: string }): Promise<ExchangedToken>;
}

/** A refused or failed exchange; `message` is the provider's reason, written for the API user. */
export class ExchangeError extends Error {
  override name = "ExchangeError";
}
