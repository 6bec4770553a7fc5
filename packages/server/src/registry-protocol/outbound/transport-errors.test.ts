/** classifyTransportError: Node's error codes → OutboundError, keeping the original as cause. */
import { describe, expect, it } from "vitest";
import { classifyTransportError } from "./transport-errors.js";

const withCode = (code: unknown) => Object.assign(new Error("message with pw-example"), { code });

describe("classifyTransportError", () => {
  it.each([
    ["ERR_OSSL_EVP_BAD_DECRYPT", "tls_error", "the TLS handshake failed (ERR_OSSL_EVP_BAD_DECRYPT)"],
    ["ERR_TLS_HANDSHAKE_TIMEOUT", "tls_error", "the TLS handshake failed (ERR_TLS_HANDSHAKE_TIMEOUT)"],
    ["HOSTNAME_MISMATCH", "tls_error", "the server's certificate does not name this host"],
    ["HPE_HEADER_OVERFLOW", "response_too_large", "the response headers are too large"],
    ["HPE_INVALID_CHUNK_SIZE", "unreachable", "the server did not answer valid HTTP (HPE_INVALID_CHUNK_SIZE)"],
    ["ECONNREFUSED", "unreachable", "the connection was refused"],
    ["EWEIRD", "unreachable", "the connection failed (EWEIRD)"],
  ])("%s → %s, with the original error as cause", (code, expected, detail) => {
    const original = withCode(code);
    const err = classifyTransportError(original);
    expect({ code: err.code, detail: err.detail }).toEqual({ code: expected, detail });
    expect(err.cause).toBe(original);
  });

  it.each([
    ["null", null],
    ["a string", "ECONNREFUSED"],
    ["an error without a code", new Error("ECONNREFUSED")],
    ["a code that is not a string", withCode(["ECONNREFUSED"])],
    ["a code with a lower-case prefix", withCode("xECONNREFUSED")],
    ["a code with a suffix", withCode("ECONNREFUSED-x")],
  ])("reads no code from %s", (_name, err) => {
    const classified = classifyTransportError(err);
    expect({ code: classified.code, detail: classified.detail }).toEqual({ code: "unreachable", detail: "the connection failed" });
    expect(classified.cause).toBe(err);
  });
});
