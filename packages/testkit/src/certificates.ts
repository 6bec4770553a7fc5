/**
 * Throwaway self-signed certificates, made with the `openssl` CLI. One maker,
 * `selfSignedCertificate`, and the shapes the tests need on top of it:
 *
 * - `createTestCertificateAuthority(dir)`: the TLS certificate of every test registry server, for
 *   `127.0.0.1` with SAN `IP:127.0.0.1,DNS:localhost`. It is self-signed, so it is its own CA:
 *   clients trust exactly this certificate (Node: `ca: certPem`; skopeo: `--cert-dir certDir`).
 * - `createSigningCertificate(dir)`: the key + self-signed certificate the token server signs its
 *   JWTs with; the registry's `auth.token.rootcertbundle`.
 * - `makeCertificate(names)`: a server certificate for loopback and the `*.test` names the
 *   outbound doubles answer to.
 * - `makeCaCertificate(name)`: a CA certificate, e.g. what a registry's `ca_certificate` holds.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

export type SigningCertificate = CertificateFiles;

export interface SelfSignedOptions {
  /** Where the key and certificate files are written (`<baseName>.crt`, `<baseName>.key`). */
  dir: string;
  baseName: string;
  /** The subject, e.g. `/CN=127.0.0.1`. */
  subject: string;
  /**
   * `ec` (P-256) is fast and enough for TLS; `rsa` (2048) is what the registry's token auth
   * verifies (RS256).
   */
  key: "ec" | "rsa";
  /** `-addext` values, e.g. `subjectAltName=…` or `basicConstraints=critical,CA:TRUE`. */
  extensions?: string[];
}

export interface CertificateFiles {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

/** A key and a self-signed certificate for it, valid for 2 days. */
export function selfSignedCertificate(options: SelfSignedOptions): CertificateFiles {
  mkdirSync(options.dir, { recursive: true });
  const certPath = join(options.dir, `${options.baseName}.crt`);
  const keyPath = join(options.dir, `${options.baseName}.key`);
  const keyArgs = options.key === "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] : ["-newkey", "rsa:2048"];
  const args = [
    "req", "-x509", ...keyArgs, "-nodes", "-sha256", "-days", "2",
    "-keyout", keyPath, "-out", certPath, "-subj", options.subject,
    ...(options.extensions ?? []).flatMap((extension) => ["-addext", extension]),
  ];
  try {
    execFileSync(opensslBin, args, { timeout: 30_000, stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const e = error as { message?: string; stderr?: Buffer };
    throw new Error(`openssl ${args.join(" ")} failed: ${e.message ?? ""}\n${e.stderr?.toString() ?? ""}`.trim());
  }
  return { certPath, keyPath, certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(keyPath, "utf8") };
}

/** `selfSignedCertificate` in a temp dir that is gone afterwards: only the PEM texts remain. */
function inMemory(options: Omit<SelfSignedOptions, "dir" | "baseName">): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "modbox-cert-"));
  try {
    const made = selfSignedCertificate({ ...options, dir, baseName: "cert" });
    return { cert: made.certPem, key: made.keyPem };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Generates the test TLS certificate for 127.0.0.1 in `dir` (`tls.crt`, `tls.key`, and
 * `certs/ca.crt` for skopeo). Valid for 2 days.
 */
export async function createTestCertificateAuthority(dir: string): Promise<TestCertificateAuthority> {
  const cert = selfSignedCertificate({
    dir, baseName: "tls", subject: "/CN=127.0.0.1", key: "rsa",
    extensions: ["subjectAltName=IP:127.0.0.1,DNS:localhost"],
  });
  const certDir = join(dir, "certs");
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, "ca.crt"), cert.certPem);
  return { ...cert, certDir };
}

/** Generates an RSA-2048 key and a self-signed certificate for signing registry tokens (RS256). */
export async function createSigningCertificate(dir: string, commonName = "test-token-signer"): Promise<SigningCertificate> {
  return selfSignedCertificate({ dir, baseName: "token-signing", subject: `/CN=${commonName}`, key: "rsa" });
}

export interface TestCertificate {
  key: string;
  cert: string;
}

/** The names the outbound doubles answer to (through a fake DNS), besides loopback. */
export const TEST_NAMES = ["localhost", "registry.test", "auth.test", "other.test"] as const;

/** A self-signed EC server certificate for 127.0.0.1, ::1 and `names`. */
export function makeCertificate(names: readonly string[] = TEST_NAMES): TestCertificate {
  const san = ["IP:127.0.0.1", "IP:::1", ...names.map((n) => `DNS:${n}`)].join(",");
  return inMemory({ subject: "/CN=outbound-test", key: "ec", extensions: [`subjectAltName=${san}`] });
}

/** A self-signed EC CA certificate (PEM) named `commonName`. */
export function makeCaCertificate(commonName: string): string {
  return inMemory({ subject: `/CN=${commonName}`, key: "ec", extensions: ["basicConstraints=critical,CA:TRUE"] }).cert;
}
