import { describe, expect, it } from "vitest";
import type { InsecureRegistries } from "../registry-protocol/insecure-registries.js";
import { checkCaCertificate, normaliseServerOrThrow, providerWarningsOrThrow } from "./registry-input.js";
import { TEST_CA_CERTIFICATE as CERTIFICATE } from "@modbox/testkit/fixtures";

/** The 422 a rule raises: its code, its detail and the fields it names. */
const validationFailed = (detail: string, fieldErrors: { path: string; message: string }[]) =>
  expect.objectContaining({ name: "DomainError", code: "validation_failed", detail, fieldErrors });

/** An operator's list that allows exactly these `host[:port]`s over plain HTTP. */
const allowing = (...hosts: string[]): InsecureRegistries => ({ entries: hosts, allows: (hostPort) => hosts.includes(hostPort) });

describe("normaliseServerOrThrow", () => {
  it.each([
    ["https://GHCR.io/", "ghcr.io"],
    [" ghcr.io:443/acme ", "ghcr.io/acme"],
    ["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"],
  ])("stores %j as %j", (input, stored) => {
    expect(normaliseServerOrThrow(input, allowing())).toBe(stored);
  });

  it.each([
    ["ftp://registry.example.com", "only an https:// or http:// prefix is allowed"],
    ["registry example.com", "server must not contain whitespace or control characters"],
    ["https://user@ghcr.io", "server must not contain a user name (user@host)"],
  ])("refuses %j at /body/server with the rule it breaks", (input, reason) => {
    expect(() => normaliseServerOrThrow(input, allowing())).toThrow(
      validationFailed("The registry server is not a valid host[:port], optionally followed by a repository path.", [
        { path: "/body/server", message: reason },
      ]),
    );
  });

  it("refuses an http:// server whose host the operator has not listed, naming the setting that would allow it", () => {
    expect(() => normaliseServerOrThrow("http://registry.lan:5000", allowing("registry.lan"))).toThrow(
      validationFailed("Credentials are sent to registries over HTTPS only.", [
        {
          path: "/body/server",
          message:
            "credentials are sent over HTTPS only: write the server without http:// for a registry that speaks https, " +
            "or ask the operator to list this host[:port] in MODBOX_INSECURE_REGISTRIES for a plain-HTTP registry",
        },
      ]),
    );
  });

  it("keeps http:// for a host[:port] the operator listed as insecure", () => {
    expect(normaliseServerOrThrow("http://Registry.lan:5000/team", allowing("registry.lan:5000"))).toBe("http://registry.lan:5000/team");
  });

  it("does not consult the insecure list for an https server", () => {
    const asked: string[] = [];
    const recording: InsecureRegistries = { entries: [], allows: (hostPort) => (asked.push(hostPort), false) };
    expect(normaliseServerOrThrow("registry.lan:5000", recording)).toBe("registry.lan:5000");
    expect(asked).toEqual([]);
  });
});

const BROKEN_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

describe("checkCaCertificate", () => {
  it.each([
    ["no CA certificate (null)", null],
    ["no CA certificate (undefined)", undefined],
    ["one certificate", CERTIFICATE],
    ["a bundle of two certificates with text around them", `# corporate CA\n${CERTIFICATE}\n# its intermediate\n${CERTIFICATE}`],
  ])("accepts %s", (_name, pem) => {
    expect(() => checkCaCertificate(pem)).not.toThrow();
  });

  it.each([
    ["an empty string", ""],
    ["text without a PEM block", "not a certificate"],
    ["a private key", "-----BEGIN PRIVATE KEY-----\ntest-not-a-key\n-----END PRIVATE KEY-----\n"],
  ])("refuses %s: it must hold at least one certificate", (_name, pem) => {
    expect(() => checkCaCertificate(pem)).toThrow(
      validationFailed("The CA certificate is not valid PEM.", [
        { path: "/body/ca_certificate", message: "must contain at least one PEM certificate (-----BEGIN CERTIFICATE-----)" },
      ]),
    );
  });

  it.each([
    ["a single block that is not X.509", BROKEN_CERTIFICATE],
    ["a bundle whose second certificate does not parse", `${CERTIFICATE}${BROKEN_CERTIFICATE}`],
  ])("refuses %s: every certificate must parse", (_name, pem) => {
    expect(() => checkCaCertificate(pem)).toThrow(
      validationFailed("The CA certificate is not valid PEM.", [
        { path: "/body/ca_certificate", message: "every PEM certificate must parse as X.509" },
      ]),
    );
  });

  it("refuses a bundle whose last certificate was cut short, rather than store it without that certificate", () => {
    const cutShort = `${CERTIFICATE}\n${CERTIFICATE.slice(0, CERTIFICATE.indexOf("-----END CERTIFICATE-----"))}`;
    expect(() => checkCaCertificate(cutShort)).toThrow(
      validationFailed("The CA certificate is not valid PEM.", [
        {
          path: "/body/ca_certificate",
          message: "every -----BEGIN CERTIFICATE----- must end with -----END CERTIFICATE-----: the bundle looks cut short",
        },
      ]),
    );
  });
});

describe("providerWarningsOrThrow", () => {
  it("returns the provider's warnings, as stored with the registry", () => {
    expect(providerWarningsOrThrow("ghcr.io", " octocat", "test-password")).toEqual([
      { code: "username_whitespace", field: "username", message: "username starts or ends with whitespace" },
      {
        code: "ghcr_token_format",
        field: "password",
        message: "ghcr.io accepts GitHub tokens only (a personal access token ghp_… with read:packages), not an account password",
      },
    ]);
  });

  it("returns no warnings for a credential its provider takes as is", () => {
    expect(providerWarningsOrThrow("registry.example.com", "ci", "test-password")).toEqual([]);
  });

  it.each([
    [
      "ECR with a username other than AWS",
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      "admin",
      "test-password",
      [{ path: "/body/username", message: "ECR expects the username AWS" }],
    ],
    [
      "ECR with the wrong username and the whole base64 authorization token",
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      "admin",
      Buffer.from("AWS:test-token").toString("base64"),
      [
        { path: "/body/username", message: "ECR expects the username AWS" },
        {
          path: "/body/password",
          message: "the password is the whole base64 ECR authorization token: use the part after AWS: once decoded (aws ecr get-login-password)",
        },
      ],
    ],
    [
      "Google with a username it does not know",
      "europe-docker.pkg.dev",
      "someone",
      "test-password",
      [{ path: "/body/username", message: "Google registries expect the username _json_key, _json_key_base64 or oauth2accesstoken" }],
    ],
    [
      "a server that does not normalise",
      "ftp://registry.example.com",
      "ci",
      "test-password",
      [{ path: "/body/server", message: "only an https:// or http:// prefix is allowed" }],
    ],
  ])("refuses %s, naming each field at fault", (_name, server, username, password, fieldErrors) => {
    expect(() => providerWarningsOrThrow(server, username, password)).toThrow(
      validationFailed("The credential cannot work with this registry's provider.", fieldErrors),
    );
  });
});
