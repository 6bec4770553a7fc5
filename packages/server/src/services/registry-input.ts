import { X509Certificate } from "node:crypto";
import type { CredentialWarning } from "../db/records.js";
import { DomainError } from "../errors.js";
import { normaliseServer } from "../registry-protocol/hosts.js";
import { checkCredentialsForProvider } from "../registry-protocol/providers.js";

/**
 * Rules for registry input that the schema cannot express: the server as users type it
 * (`https://GHCR.io/` → `ghcr.io`), PEM that parses, and what each provider accepts.
 * Every failure is a 422 naming the field and the rule, never the value.
 */
export function normaliseServerOrThrow(server: string): string {
  const result = normaliseServer(server);
  if (!result.ok) {
    throw new DomainError("validation_failed", "The registry server is not a valid host[:port].", {
      fieldErrors: [
        { path: "/body/server", message: result.reason },
      ],
    });
  }
  return result.server;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A CA bundle: one or more PEM certificates, each of which must parse. */
export function checkCaCertificate(pem: string | null | undefined): void {
  if (pem == null) return;
  const blocks = pem.match(PEM_BLOCK) ?? [];
  const fail = (message: string) => {
    throw new DomainError("validation_failed", "The CA certificate is not valid PEM.", {
      fieldErrors: [
        { path: "/body/ca_certificate", message },
      ],
    });
  };
  if (blocks.length === 0) fail("must contain at least one PEM certificate (-----BEGIN CERTIFICATE-----)");
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      fail("every PEM certificate must parse as X.509");
    }
  }
}

/** Provider errors become a 422; warnings are returned to be stored with the registry. */
export function providerWarningsOrThrow(server: string, username: string, password: string): CredentialWarning[] {
  const { errors, warnings } = checkCredentialsForProvider(server, username, password);
  if (errors.length > 0) {
    throw new DomainError(
      "validation_failed",
      "The credential cannot work with this registry's provider.",
      { fieldErrors: errors.map((e) => ({ path: `/body/${e.field}`, message: e.message })) },
    );
  }
  return warnings.map(({ code, field, message }) => ({ code, field, message }));
}
