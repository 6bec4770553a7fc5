/**
 * Node socket, DNS and TLS errors → `OutboundError` (`tls_error`, `unreachable`,
 * `response_too_large`). Reads `code` only: messages are never copied into a detail.
 */
import { OutboundError } from "./errors.js";

/** OpenSSL verification results that Node exposes as `err.code`. */
const CERTIFICATE_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERROR_IN_CRL_LAST_UPDATE_FIELD",
  "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
  "OUT_OF_MEM",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
]);

const TLS_DETAILS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed and not trusted (configure its CA)",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate chain ends in an untrusted root (configure its CA)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is signed by an unknown CA (configure its CA)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is signed by an unknown CA (configure its CA)",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate does not name this host",
  HOSTNAME_MISMATCH: "the server's certificate does not name this host",
};

const UNREACHABLE_DETAILS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "the connection was refused",
  ECONNRESET: "the connection was reset",
  EPIPE: "the connection was closed",
  ETIMEDOUT: "the connection timed out",
  ERR_SOCKET_CONNECTION_TIMEOUT: "the connection timed out",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  EADDRNOTAVAIL: "no route to the address",
  ENOTFOUND: "the host name was not found",
  EAI_AGAIN: "the host name could not be resolved right now",
};

export function classifyTransportError(err: unknown): OutboundError {
  const code = errorCode(err);
  if (code !== undefined && isTlsCode(code)) {
    const detail = TLS_DETAILS[code] ?? `the TLS handshake failed (${code})`;
    return new OutboundError("tls_error", detail, { cause: err });
  }
  if (code === "HPE_HEADER_OVERFLOW") {
    return new OutboundError("response_too_large", "the response headers are too large", { cause: err });
  }
  if (code?.startsWith("HPE_")) {
    return new OutboundError("unreachable", `the server did not answer valid HTTP (${code})`, { cause: err });
  }
  const detail = (code && UNREACHABLE_DETAILS[code]) ?? (code ? `the connection failed (${code})` : "the connection failed");
  return new OutboundError("unreachable", detail, { cause: err });
}

function isTlsCode(code: string): boolean {
  return (
    CERTIFICATE_CODES.has(code) ||
    code === "EPROTO" ||
    code.startsWith("ERR_TLS_") ||
    code.startsWith("ERR_SSL_") ||
    code.startsWith("ERR_OSSL_")
  );
}

/** The error's `code` if it looks like one (upper-case identifier), else undefined. */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const { code } = err as { code: unknown };
  return typeof code === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : undefined;
}
