/**
 * Self-signed certificates for the test registry and its token server, made with the `openssl`
 * CLI (recipe: shared/engineering/real-components.md).
 *
 * - `createTestCertificateAuthority(dir)`: the TLS certificate of every test server, for
 *   `127.0.0.1` with SAN `IP:127.0.0.1,DNS:localhost`. It is self-signed, so it is its own CA:
 *   clients trust exactly this certificate (Node: `ca: certPem`; skopeo: `--cert-dir certDir`).
 * - `createSigningCertificate(dir)`: the key + self-signed certificate the token server signs its
 *   JWTs with; the registry's `auth.token.rootcertbundle`.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The `openssl` binary; override with OPENSSL_BIN. */
export const opensslBin = process.env.OPENSSL_BIN ?? "openssl";

export interface TestCertificateAuthority {
  /** PEM certificate (self-signed, CN=127.0.0.1, SAN IP:127.0.0.1, DNS:localhost). */
  certPath: string;
  /** PEM private key (PKCS#8, unencrypted) of `certPath`. */
  keyPath: string;
  certPem: string;
  keyPem: string;
  /**
   * A directory holding only `ca.crt` (= certPem), for `skopeo --cert-dir` / `--src-cert-dir` /
   * `--dest-cert-dir`. (skopeo reads `*.crt` there as CAs and pairs `*.cert`/`*.key` as client
   * certificates, so the key must NOT be in it.)
   */
  certDir: string;
}

export interface SigningCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

async function selfSigned(
  dir: string,
  baseName: string,
  subject: string,
  extraArgs: string[],
): Promise<{ certPath: string; keyPath: string; certPem: string; keyPem: string }> {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, `${baseName}.crt`);
  const keyPath = join(dir, `${baseName}.key`);
  const args = [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
    "-keyout", keyPath, "-out", certPath, "-subj", subject, ...extraArgs,
  ];
  try {
    await execFileAsync(opensslBin, args, { timeout: 30_000 });
  } catch (error) {
    const e = error as { message?: string; stderr?: string };
    throw new Error(`openssl ${args.join(" ")} failed: ${e.message ?? ""}\n${e.stderr ?? ""}`.trim());
  }
  return { certPath, keyPath, certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(keyPath, "utf8") };
}

/**
 * Generates the test TLS certificate for 127.0.0.1 in `dir` (`tls.crt`, `tls.key`, and
 * `certs/ca.crt` for skopeo). Valid for 2 days.
 */
export async function createTestCertificateAuthority(dir: string): Promise<TestCertificateAuthority> {
  const cert = await selfSigned(dir, "tls", "/CN=127.0.0.1", [
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  const certDir = join(dir, "certs");
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, "ca.crt"), cert.certPem);
  return { ...cert, certDir };
}

/** Generates an RSA-2048 key and a self-signed certificate for signing registry tokens (RS256). */
export async function createSigningCertificate(dir: string, commonName = "test-token-signer"): Promise<SigningCertificate> {
  return selfSigned(dir, "token-signing", `/CN=${commonName}`, []);
}
