import { X509Certificate } from "node:crypto";
import type { CredentialWarning } from "../db/records.js";
import { DomainError } from "../errors.js";
import { normaliseServer } from "../registry-protocol/hosts.js";
import { INSECURE_REGISTRIES_VARIABLE, type InsecureRegistries } from "../registry-protocol/insecure-registries.js";
import { checkCredentialsForProvider } from "../registry-protocol/providers.js";

/**
 * Rules for registry input that the schema cannot express: the server as users type it
 * (`https://GHCR.io/` → `ghcr.io`, `ghcr.io:443/acme` → `ghcr.io/acme`), PEM that parses, and
 * what each provider accepts. Every failure is a 422 naming the field and the rule, never the value.
 *
 * An `http://` server is refused unless the operator listed its host in
 * `MODBOX_INSECURE_REGISTRIES`: credentials go to registries over HTTPS only. Silently turning it
 * into https (what happened before) only moved the failure to a puzzling TLS error.
 */
export function normaliseServerOrThrow(server: string, insecureRegistries: InsecureRegistries): string {
  const result = normaliseServer(server);
  if (!result.ok) {
    throw new DomainError("validation_failed", "The registry server is not a valid host[:port], optionally followed by a repository path.", {
      fieldErrors: [
        { path: "/body/server", message: result.reason },
      ],
    });
  }
  if (result.scheme === "http" && !insecureRegistries.allows(result.host)) {
    throw new DomainError("validation_failed", "Credentials are sent to registries over HTTPS only.", {
      fieldErrors: [
        {
          path: "/body/server",
          message:
            "credentials are sent over HTTPS only: write the server without http:// for a registry that speaks https, " +
            `or ask the operator to list this host[:port] in ${INSECURE_REGISTRIES_VARIABLE} for a plain-HTTP registry`,
        },
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
  // A bundle cut short by a bad paste would otherwise be stored without its last certificate.
  if (pem.split("-----BEGIN CERTIFICATE-----").length - 1 !== blocks.length) {
    fail("every -----BEGIN CERTIFICATE----- must end with -----END CERTIFICATE-----: the bundle looks cut short");
  }
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
