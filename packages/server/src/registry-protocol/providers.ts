/**
 * Provider awareness: which registry product a server is, and what its credentials must look like.
 *
 * Detection works on the normalised server's host (hosts.ts; a repository prefix such as
 * `ghcr.io/acme` is one of the host's namespaces) and the host patterns of wire-formats.md.
 * The normalised server has no default port (`ghcr.io:443` is `ghcr.io`, so `ghcr`); a server
 * with another port is never a cloud provider (they all listen on 443 only): `ghcr.io:5000` is
 * `self_hosted`, and so is every `http://` server (no cloud registry speaks plain HTTP).
 *
 * | provider    | host pattern                                                           |
 * |-------------|------------------------------------------------------------------------|
 * | dockerhub   | docker.io, index.docker.io, registry-1.docker.io, registry.hub.docker.com |
 * | ghcr        | ghcr.io                                                                |
 * | google      | ^[a-z0-9-]+-docker\.pkg\.dev$, gcr.io, <one label>.gcr.io               |
 * | ecr         | every ECR host form (FIPS, China, dual-stack, partitions): ecr-hosts.ts |
 * | acr         | <name>.azurecr.io, .azurecr.cn, .azurecr.us: azure-hosts.ts            |
 * | self_hosted | anything else                                                          |
 *
 * Credential checks. An **error** (the API answers 422) is a credential the provider is documented
 * to refuse, so saving it can only produce a registry that fails every pull. A **warning** (saved,
 * returned to the caller) is a heuristic: likely wrong, but a working credential can look like it.
 *
 * | code                       | kind    | field    | when                                                           |
 * |----------------------------|---------|----------|----------------------------------------------------------------|
 * | ecr_username               | error   | username | ECR and the username is not exactly `AWS`                      |
 * | ecr_password_encoded       | error   | password | ECR and the password is the base64 `AWS:<pw>` authorization token itself |
 * | ecr_token_expiry           | warning | password | ECR: the password is a token that expires after 12 hours       |
 * | google_username            | error   | username | Google and the username is not `_json_key`, `_json_key_base64`, `oauth2accesstoken` |
 * | google_json_key            | error   | password | `_json_key` and the password is not a service-account JSON key |
 * | google_json_key_base64     | error   | password | `_json_key_base64` and the password is not base64 of one       |
 * | google_access_token        | error   | password | `oauth2accesstoken` and the password is a service-account key  |
 * | google_token_expiry        | warning | password | `oauth2accesstoken`: access tokens expire after about an hour  |
 * | google_host                | warning | server   | a `*.pkg.dev` host that is not a `-docker` (container) repository |
 * | ecr_host                   | warning | server   | looks like ECR (`.dkr.ecr.`, amazonaws.com) but does not match the pattern |
 * | ghcr_token_format          | warning | password | GHCR and the password is not a GitHub token (`ghp_`, `github_pat_`, `gho_`, `ghu_`, `ghs_`) |
 * | ghcr_fine_grained_token    | warning | password | GHCR and a fine-grained token (`github_pat_`): GitHub Packages documents classic tokens |
 * | dockerhub_password         | warning | password | Docker Hub and not an access token (`dckr_pat_`, `dckr_oat_`): account passwords work but are discouraged |
 * | dockerhub_username_email   | warning | username | Docker Hub and the username looks like an email (the CLI signs in with the Docker ID) |
 * | acr_username_email         | warning | username | ACR and the username looks like an email                      |
 * | username_whitespace        | warning | username | leading or trailing whitespace (usually a paste accident)     |
 * | password_whitespace        | warning | password | leading or trailing whitespace (usually a paste accident)     |
 * | insecure_registry          | warning | server   | an `http://` server: the credential and the images travel unencrypted |
 * | server_invalid             | error   | server   | the server does not normalise (see hosts.ts)                   |
 *
 * Messages name the rule, never a value: no part of the password (nor the username) ever appears
 * in one.
 */
import { parseAcrServer } from "./azure-hosts.js";
import { parseEcrServer } from "./ecr-hosts.js";
import { DOCKER_HUB, normaliseServer } from "./hosts.js";

export type ProviderName = "dockerhub" | "ghcr" | "google" | "ecr" | "acr" | "self_hosted";

export type ProviderInfo =
  | { provider: "dockerhub"; server: string }
  | { provider: "ghcr"; server: string }
  | {
      provider: "google";
      server: string;
      product: "artifact_registry" | "container_registry";
      /** Artifact Registry location (`europe-west1`, `us`); null for `gcr.io` hosts. */
      location: string | null;
    }
  | { provider: "ecr"; server: string; accountId: string; region: string; fips: boolean }
  | { provider: "acr"; server: string; registryName: string }
  | { provider: "self_hosted"; server: string };

export interface Issue {
  code: string;
  field: "username" | "password" | "server";
  message: string;
}

export interface CredentialCheck {
  errors: Issue[];
  warnings: Issue[];
}

export interface ProviderHints {
  usernameHint: string;
  passwordHint: string;
}

const ARTIFACT_REGISTRY = /^([a-z0-9-]+)-docker\.pkg\.dev$/;
const CONTAINER_REGISTRY = /^(?:[a-z0-9-]+\.)?gcr\.io$/;

/**
 * Which provider serves this registry server (raw or normalised).
 * A server that does not normalise is reported as `self_hosted` with the trimmed input.
 *
 * @example detectProvider("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/")
 * // { provider: "ecr", server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", accountId: "123456789012", region: "eu-west-1", fips: false }
 */
export function detectProvider(server: string): ProviderInfo {
  const normalised = normaliseServer(server);
  if (!normalised.ok) return { provider: "self_hosted", server: server.trim() };
  // The provider is the host's: a repository prefix (`ghcr.io/acme`) is one of its namespaces.
  const { host, server: stored } = normalised;
  if (normalised.scheme === "http") return { provider: "self_hosted", server: stored };
  if (host === DOCKER_HUB) return { provider: "dockerhub", server: stored };
  if (host === "ghcr.io") return { provider: "ghcr", server: stored };

  const artifact = ARTIFACT_REGISTRY.exec(host);
  if (artifact) return { provider: "google", server: stored, product: "artifact_registry", location: artifact[1]! };
  if (CONTAINER_REGISTRY.test(host)) return { provider: "google", server: stored, product: "container_registry", location: null };

  // One parser per cloud, shared with the token exchanges: a host the aws_ecr or
  // azure_service_principal types accept is always that provider here too.
  const ecr = parseEcrServer(stored);
  if (ecr) return { provider: "ecr", server: stored, accountId: ecr.accountId, region: ecr.region, fips: ecr.fips };

  const acr = parseAcrServer(stored);
  if (acr) return { provider: "acr", server: stored, registryName: acr.host.slice(0, acr.host.indexOf(".")) };

  return { provider: "self_hosted", server: stored };
}

/**
 * Checks a credential against what its provider accepts (see the table at the top of the file).
 * Errors should fail the request with 422; warnings are returned alongside a successful save.
 */
export function checkCredentialsForProvider(server: string, username: string, password: string): CredentialCheck {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const error = (code: string, field: Issue["field"], message: string) => errors.push({ code, field, message });
  const warn = (code: string, field: Issue["field"], message: string) => warnings.push({ code, field, message });

  if (username !== username.trim()) warn("username_whitespace", "username", "username starts or ends with whitespace");
  if (password !== password.trim()) warn("password_whitespace", "password", "password starts or ends with whitespace");

  const normalised = normaliseServer(server);
  if (!normalised.ok) {
    error("server_invalid", "server", normalised.reason);
    return { errors, warnings };
  }
  const info = detectProvider(normalised.server);
  if (normalised.scheme === "http") {
    warn(
      "insecure_registry",
      "server",
      "this registry is spoken to over plain HTTP: the credential and the images travel unencrypted, and every runtime that pulls from it must be configured to allow it",
    );
  }

  switch (info.provider) {
    case "ecr":
      if (username !== "AWS") error("ecr_username", "username", "ECR expects the username AWS");
      if (isEcrAuthorizationToken(password)) {
        error(
          "ecr_password_encoded",
          "password",
          "the password is the whole base64 ECR authorization token: use the part after AWS: once decoded (aws ecr get-login-password)",
        );
      }
      warn("ecr_token_expiry", "password", "ECR passwords are tokens that expire after 12 hours; refresh them before then");
      break;

    case "google":
      checkGoogle(username, password, error, warn);
      break;

    case "ghcr":
      if (password.startsWith("github_pat_")) {
        warn(
          "ghcr_fine_grained_token",
          "password",
          "GitHub Packages documents classic personal access tokens (ghp_) with read:packages; a fine-grained token may be refused",
        );
      } else if (!GITHUB_TOKEN_PREFIXES.some((prefix) => password.startsWith(prefix))) {
        warn(
          "ghcr_token_format",
          "password",
          "ghcr.io accepts GitHub tokens only (a personal access token ghp_… with read:packages), not an account password",
        );
      }
      break;

    case "dockerhub":
      if (!DOCKER_TOKEN_PREFIXES.some((prefix) => password.startsWith(prefix))) {
        warn(
          "dockerhub_password",
          "password",
          "use a Docker Hub personal access token (dckr_pat_…) rather than the account password",
        );
      }
      if (looksLikeEmail(username)) {
        warn("dockerhub_username_email", "username", "Docker Hub expects the Docker ID (username), not the account email");
      }
      break;

    case "acr":
      if (looksLikeEmail(username)) {
        warn(
          "acr_username_email",
          "username",
          "ACR expects the admin user, a service principal (application) id, or 00000000-0000-0000-0000-000000000000 for tokens, not a sign-in email",
        );
      }
      break;

    case "self_hosted":
      checkNearMisses(normalised.host, warn);
      break;
  }
  return { errors, warnings };
}

/** Short hints for docs, the SDK and form placeholders. */
export function providerHints(provider: ProviderName): ProviderHints {
  return HINTS[provider];
}

// ---------------------------------------------------------------------------------------------

const GITHUB_TOKEN_PREFIXES = ["ghp_", "github_pat_", "gho_", "ghu_", "ghs_"];
const DOCKER_TOKEN_PREFIXES = ["dckr_pat_", "dckr_oat_"];
const GOOGLE_USERNAMES = ["_json_key", "_json_key_base64", "oauth2accesstoken"];

const HINTS: Readonly<Record<ProviderName, ProviderHints>> = {
  dockerhub: {
    usernameHint: "your Docker ID (username, not email)",
    passwordHint: "a personal access token (dckr_pat_…) with read access",
  },
  ghcr: {
    usernameHint: "your GitHub username",
    passwordHint: "a classic personal access token (ghp_…) with read:packages",
  },
  google: {
    usernameHint: "_json_key, _json_key_base64 or oauth2accesstoken",
    passwordHint: "a service-account JSON key (raw for _json_key, base64 for _json_key_base64) or an access token",
  },
  ecr: {
    usernameHint: "AWS",
    passwordHint: "the output of aws ecr get-login-password (valid 12 hours)",
  },
  acr: {
    usernameHint: "the admin user, a service principal id, or 00000000-0000-0000-0000-000000000000 for tokens",
    passwordHint: "the admin password, service principal secret or token",
  },
  self_hosted: {
    usernameHint: "the registry user",
    passwordHint: "the registry password or token",
  },
};

type Report = (code: string, field: Issue["field"], message: string) => void;

function checkGoogle(username: string, password: string, error: Report, warn: Report): void {
  if (!GOOGLE_USERNAMES.includes(username)) {
    error("google_username", "username", "Google registries expect the username _json_key, _json_key_base64 or oauth2accesstoken");
    return;
  }
  if (username === "_json_key") {
    if (isServiceAccountKey(password)) return;
    const decoded = decodeBase64(password);
    error(
      "google_json_key",
      "password",
      decoded !== undefined && isServiceAccountKey(decoded)
        ? "the password is base64-encoded: use the username _json_key_base64, or paste the JSON key itself"
        : 'with _json_key the password must be a service-account JSON key ("type": "service_account", with client_email and private_key)',
    );
    return;
  }
  if (username === "_json_key_base64") {
    const decoded = decodeBase64(password);
    if (decoded !== undefined && isServiceAccountKey(decoded)) return;
    error(
      "google_json_key_base64",
      "password",
      isServiceAccountKey(password)
        ? "the password is the JSON key itself: use the username _json_key, or base64-encode the key"
        : 'with _json_key_base64 the password must be the base64 of a service-account JSON key ("type": "service_account")',
    );
    return;
  }
  // oauth2accesstoken
  const decoded = decodeBase64(password);
  if (isServiceAccountKey(password) || (decoded !== undefined && isServiceAccountKey(decoded))) {
    error("google_access_token", "password", "the password is a service-account key: use the username _json_key or _json_key_base64");
    return;
  }
  warn(
    "google_token_expiry",
    "password",
    "access tokens expire after about an hour; a service-account key (_json_key_base64) does not",
  );
}

function checkNearMisses(host: string, warn: Report): void {
  if (/\.pkg\.dev$/.test(host) && !ARTIFACT_REGISTRY.test(host)) {
    warn("google_host", "server", "Artifact Registry hosts for container images look like <location>-docker.pkg.dev");
  }
  if (/\.dkr\.ecr/.test(host) || /\.ecr\.[^.]+\.amazonaws\.com(?:\.cn)?(?::\d+)?$/.test(host)) {
    warn("ecr_host", "server", "ECR hosts look like <12-digit account>.dkr.ecr.<region>.amazonaws.com");
  }
}

/** A parsed JSON object with `"type": "service_account"` and the fields a key needs. */
function isServiceAccountKey(text: string): boolean {
  const trimmed = text.trim();
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    // Not JSON, so no key. Never surface the SyntaxError: V8 quotes the input in its message.
  }
  // JSON that is not an object (a number, a string, an array) has no `type` of its own; null and
  // an unparsed text stop at `?.`.
  const key = value as Record<string, unknown> | null | undefined;
  return (
    key?.type === "service_account" &&
    typeof key.client_email === "string" &&
    key.client_email !== "" &&
    typeof key.private_key === "string" &&
    key.private_key !== ""
  );
}

/**
 * Strict standard or URL-safe base64 (padding optional; line breaks ignored, as Go's decoder does)
 * to UTF-8 text; undefined when the text is not base64.
 */
function decodeBase64(text: string): string | undefined {
  const compact = text.trim().replace(/[\r\n]/g, "");
  if (compact.length % 4 === 1) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) && !/^[A-Za-z0-9_-]*={0,2}$/.test(compact)) return undefined;
  // Node's base64 decoder reads the URL-safe alphabet too; the checks above keep the two apart.
  // An empty text decodes to "", which is neither a key nor `AWS:…`.
  return Buffer.from(compact, "base64").toString("utf8");
}

function isEcrAuthorizationToken(password: string): boolean {
  if (password.length < 8) return false;
  return decodeBase64(password)?.startsWith("AWS:") ?? false;
}

function looksLikeEmail(username: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(username.trim());
}
