import { describe, expect, it } from "vitest";
import { checkCredentialsForProvider, detectProvider, type Issue, type ProviderName, providerHints } from "./providers.js";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const GAR = "europe-west1-docker.pkg.dev";
const ACR = "myregistry.azurecr.io";

const serviceAccount = {
  type: "service_account",
  project_id: "demo",
  private_key_id: "k1",
  private_key: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
  client_email: "puller@demo.iam.gserviceaccount.com",
};
const SA_JSON = JSON.stringify(serviceAccount, null, 2);
const SA_BASE64 = Buffer.from(SA_JSON).toString("base64");
const ECR_PASSWORD = Buffer.from(JSON.stringify({ payload: "x".repeat(40), datakey: "y".repeat(20), version: "2" })).toString("base64");
const ECR_WHOLE_TOKEN = Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64");

describe("detectProvider", () => {
  it.each([
    // Docker Hub, every alias and spelling
    ["docker.io", { provider: "dockerhub", server: "docker.io" }],
    ["index.docker.io", { provider: "dockerhub", server: "docker.io" }],
    ["registry-1.docker.io", { provider: "dockerhub", server: "docker.io" }],
    ["registry.hub.docker.com", { provider: "dockerhub", server: "docker.io" }],
    ["https://index.docker.io/v1/", { provider: "dockerhub", server: "docker.io" }],
    // GHCR
    ["ghcr.io", { provider: "ghcr", server: "ghcr.io" }],
    ["https://GHCR.io/", { provider: "ghcr", server: "ghcr.io" }],
    // The default port is no port: the provider sees the normalised host.
    ["ghcr.io:443", { provider: "ghcr", server: "ghcr.io" }],
    ["docker.io:443", { provider: "dockerhub", server: "docker.io" }],
    ["https://europe-docker.pkg.dev:443/", { provider: "google", server: "europe-docker.pkg.dev", product: "artifact_registry", location: "europe" }],
    ["myregistry.azurecr.io:443", { provider: "acr", server: "myregistry.azurecr.io", registryName: "myregistry" }],
    // Google
    [GAR, { provider: "google", server: GAR, product: "artifact_registry", location: "europe-west1" }],
    ["us-docker.pkg.dev", { provider: "google", server: "us-docker.pkg.dev", product: "artifact_registry", location: "us" }],
    ["gcr.io", { provider: "google", server: "gcr.io", product: "container_registry", location: null }],
    ["eu.gcr.io", { provider: "google", server: "eu.gcr.io", product: "container_registry", location: null }],
    ["https://asia.gcr.io/", { provider: "google", server: "asia.gcr.io", product: "container_registry", location: null }],
    // ECR
    [ECR, { provider: "ecr", server: ECR, accountId: "123456789012", region: "us-east-1", fips: false }],
    [
      "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
      { provider: "ecr", server: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", accountId: "123456789012", region: "us-gov-west-1", fips: true },
    ],
    [
      "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
      { provider: "ecr", server: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", accountId: "123456789012", region: "cn-north-1", fips: false },
    ],
    // ACR
    [ACR, { provider: "acr", server: ACR, registryName: "myregistry" }],
    ["https://MyRegistry.azurecr.io/v2/", { provider: "acr", server: ACR, registryName: "myregistry" }],
    // Every host form the cloud auth types accept is that provider here too (one parser each).
    [
      "123456789012.dkr-ecr.eu-west-1.on.aws",
      { provider: "ecr", server: "123456789012.dkr-ecr.eu-west-1.on.aws", accountId: "123456789012", region: "eu-west-1", fips: false },
    ],
    [
      "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/team",
      { provider: "ecr", server: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/team", accountId: "123456789012", region: "us-gov-west-1", fips: true },
    ],
    ["contoso.azurecr.cn", { provider: "acr", server: "contoso.azurecr.cn", registryName: "contoso" }],
    ["contoso.azurecr.us/team", { provider: "acr", server: "contoso.azurecr.us/team", registryName: "contoso" }],
    // self-hosted, including near misses that must not be mistaken for a provider
    ["registry.example.com:5000", { provider: "self_hosted", server: "registry.example.com:5000" }],
    ["localhost:5000", { provider: "self_hosted", server: "localhost:5000" }],
    ["123.dkr.ecr.us-east-1.amazonaws.com", { provider: "self_hosted", server: "123.dkr.ecr.us-east-1.amazonaws.com" }],
    ["1234567890123.dkr.ecr.us-east-1.amazonaws.com", { provider: "self_hosted", server: "1234567890123.dkr.ecr.us-east-1.amazonaws.com" }],
    [`${ECR}.evil.com`, { provider: "self_hosted", server: `${ECR}.evil.com` }],
    ["123456789012.dkr.ecr.us-east-1.amazonaws.co", { provider: "self_hosted", server: "123456789012.dkr.ecr.us-east-1.amazonaws.co" }],
    [`${ECR}:443`, { provider: "ecr", server: ECR, accountId: "123456789012", region: "us-east-1", fips: false }],
    [`${ECR}:8443`, { provider: "self_hosted", server: `${ECR}:8443` }],
    // No cloud registry speaks plain HTTP.
    ["http://ghcr.io", { provider: "self_hosted", server: "http://ghcr.io" }],
    [`http://${ECR}`, { provider: "self_hosted", server: `http://${ECR}` }],
    ["http://registry.example.com:5000", { provider: "self_hosted", server: "http://registry.example.com:5000" }],
    ["evilazurecr.io", { provider: "self_hosted", server: "evilazurecr.io" }],
    ["azurecr.io", { provider: "self_hosted", server: "azurecr.io" }],
    ["azurecr.io.evil.com", { provider: "self_hosted", server: "azurecr.io.evil.com" }],
    ["my-registry.azurecr.io", { provider: "self_hosted", server: "my-registry.azurecr.io" }],
    ["a.b.azurecr.io", { provider: "self_hosted", server: "a.b.azurecr.io" }],
    ["europe-docker.pkg.dev.evil.com", { provider: "self_hosted", server: "europe-docker.pkg.dev.evil.com" }],
    ["docker.pkg.dev", { provider: "self_hosted", server: "docker.pkg.dev" }],
    ["europe-west1-npm.pkg.dev", { provider: "self_hosted", server: "europe-west1-npm.pkg.dev" }],
    ["gcr.io.evil.com", { provider: "self_hosted", server: "gcr.io.evil.com" }],
    ["evilgcr.io", { provider: "self_hosted", server: "evilgcr.io" }],
    ["a.b.gcr.io", { provider: "self_hosted", server: "a.b.gcr.io" }],
    ["ghcr.io.evil.com", { provider: "self_hosted", server: "ghcr.io.evil.com" }],
    ["ghcr.io:5000", { provider: "self_hosted", server: "ghcr.io:5000" }],
    ["docker.io.evil.com", { provider: "self_hosted", server: "docker.io.evil.com" }],
    ["hub.docker.com", { provider: "self_hosted", server: "hub.docker.com" }],
    ["public.ecr.aws", { provider: "self_hosted", server: "public.ecr.aws" }],
  ] as const)("%s", (server, expected) => {
    expect(detectProvider(server)).toEqual(expected);
  });

  it("reports a server that does not normalise as self_hosted", () => {
    expect(detectProvider(" ghcr.io/Org ")).toEqual({ provider: "self_hosted", server: "ghcr.io/Org" });
  });

  it("detects the provider of the host under a repository prefix, the prefix kept in server", () => {
    expect(detectProvider("https://GHCR.io/acme")).toEqual({ provider: "ghcr", server: "ghcr.io/acme" });
    expect(detectProvider("docker.io/acme")).toEqual({ provider: "dockerhub", server: "docker.io/acme" });
    expect(detectProvider(`${ECR}/team/app`)).toEqual({ provider: "ecr", server: `${ECR}/team/app`, accountId: "123456789012", region: "us-east-1", fips: false });
    expect(detectProvider("europe-west1-docker.pkg.dev/project/repo")).toMatchObject({ provider: "google", location: "europe-west1" });
    expect(detectProvider("http://ghcr.io/acme")).toEqual({ provider: "self_hosted", server: "http://ghcr.io/acme" });
  });
});

const codes = (issues: Issue[]) => issues.map((issue) => issue.code).sort();

describe("checkCredentialsForProvider", () => {
  it.each([
    // server, username, password, error codes, warning codes
    // ECR
    [ECR, "AWS", ECR_PASSWORD, [], ["ecr_token_expiry"]],
    [ECR, "aws", ECR_PASSWORD, ["ecr_username"], ["ecr_token_expiry"]],
    [ECR, "admin", ECR_PASSWORD, ["ecr_username"], ["ecr_token_expiry"]],
    [ECR, "AWS", ECR_WHOLE_TOKEN, ["ecr_password_encoded"], ["ecr_token_expiry"]],
    [ECR, "AWS ", ECR_PASSWORD, ["ecr_username"], ["ecr_token_expiry", "username_whitespace"]],
    // Google
    [GAR, "_json_key", SA_JSON, [], []],
    ["gcr.io", "_json_key", `  ${SA_JSON}`, [], ["password_whitespace"]],
    [GAR, "_json_key_base64", SA_BASE64, [], []],
    [GAR, "_json_key_base64", SA_BASE64.replace(/(.{76})/g, "$1\n"), [], []],
    [GAR, "oauth2accesstoken", "ya29.a0AfH6SMBexample", [], ["google_token_expiry"]],
    [GAR, "user@example.com", SA_JSON, ["google_username"], []],
    [GAR, "_JSON_KEY", SA_JSON, ["google_username"], []],
    [GAR, "_json_key", "not json", ["google_json_key"], []],
    [GAR, "_json_key", "{not json", ["google_json_key"], []],
    [GAR, "_json_key", JSON.stringify({ ...serviceAccount, type: "authorized_user" }), ["google_json_key"], []],
    [GAR, "_json_key", JSON.stringify({ type: "service_account" }), ["google_json_key"], []],
    [GAR, "_json_key", "[]", ["google_json_key"], []],
    [GAR, "_json_key", SA_BASE64, ["google_json_key"], []],
    [GAR, "_json_key_base64", SA_JSON, ["google_json_key_base64"], []],
    [GAR, "_json_key_base64", "bm90IGpzb24=", ["google_json_key_base64"], []],
    [GAR, "_json_key_base64", "!!!not base64!!!", ["google_json_key_base64"], []],
    [GAR, "_json_key_base64", Buffer.from(JSON.stringify({ ...serviceAccount, type: "user" })).toString("base64"), ["google_json_key_base64"], []],
    [GAR, "oauth2accesstoken", SA_JSON, ["google_access_token"], []],
    [GAR, "oauth2accesstoken", SA_BASE64, ["google_access_token"], []],
    // GHCR
    ["ghcr.io", "octocat", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", [], []],
    ["ghcr.io", "octocat", "gho_abcdefghijklmnopqrstuvwxyz0123456789", [], []],
    ["ghcr.io", "octocat", "ghs_abcdefghijklmnopqrstuvwxyz0123456789", [], []],
    ["ghcr.io", "octocat", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", [], ["ghcr_fine_grained_token"]],
    ["ghcr.io", "octocat", "hunter2", [], ["ghcr_token_format"]],
    ["ghcr.io", "octocat", "ghp_x\n", [], ["password_whitespace"]],
    // Docker Hub
    ["docker.io", "octocat", "dckr_pat_abcdefghijklmnop", [], []],
    ["registry-1.docker.io", "octocat", "dckr_oat_abcdefghijklmnop", [], []],
    ["https://index.docker.io/v1/", "octocat", "hunter2", [], ["dockerhub_password"]],
    ["docker.io", "me@example.com", "dckr_pat_abcdefghijklmnop", [], ["dockerhub_username_email"]],
    // ACR
    [ACR, "myregistry", "s3cret", [], []],
    [ACR, "00000000-0000-0000-0000-000000000000", "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.x.y", [], []],
    [ACR, "me@example.com", "s3cret", [], ["acr_username_email"]],
    // self-hosted: anything goes, except near misses worth a hint
    ["registry.example.com:5000", "anyone", "anything", [], []],
    ["123.dkr.ecr.us-east-1.amazonaws.com", "AWS", "x", [], ["ecr_host"]],
    ["api.ecr.us-east-1.amazonaws.com", "AWS", "x", [], ["ecr_host"]],
    ["europe-west1-npm.pkg.dev", "_json_key", SA_JSON, [], ["google_host"]],
    ["evilazurecr.io", "me@example.com", "x", [], []],
    // a plain-HTTP server, whatever the host
    ["http://registry.example.com:5000", "anyone", "anything", [], ["insecure_registry"]],
    ["http://ghcr.io", "octocat", "hunter2", [], ["insecure_registry"]],
    // the normalised host decides the rules: ghcr.io:443 is GHCR, ECR on :443 is ECR
    ["ghcr.io:443", "octocat", "hunter2", [], ["ghcr_token_format"]],
    [`${ECR}:443`, "admin", ECR_PASSWORD, ["ecr_username"], ["ecr_token_expiry"]],
    // invalid server
    ["https://ghcr.io/Org", "u", "p", ["server_invalid"], []],
    // A repository prefix keeps the host's rules.
    ["ghcr.io/acme", "octocat", "hunter2", [], ["ghcr_token_format"]],
    [`${ECR}/team`, "ec2-user", "p", ["ecr_username"], ["ecr_token_expiry"]],
    ["europe-west1-npm.pkg.dev/project", "u", "p", [], ["google_host"]],
  ] as const)("%s as %j", (server, username, password, errors, warnings) => {
    const result = checkCredentialsForProvider(server, username, password);
    expect(codes(result.errors)).toEqual([...errors].sort());
    expect(codes(result.warnings)).toEqual([...warnings].sort());
  });

  it("puts each issue on the right field", () => {
    const ecr = checkCredentialsForProvider(ECR, "admin", ECR_WHOLE_TOKEN);
    expect(ecr.errors).toEqual([
      { code: "ecr_username", field: "username", message: "ECR expects the username AWS" },
      expect.objectContaining({ code: "ecr_password_encoded", field: "password" }),
    ]);
    expect(checkCredentialsForProvider("europe-west1-npm.pkg.dev", "u", "p").warnings[0]?.field).toBe("server");
    expect(checkCredentialsForProvider(GAR, "bob", "p").errors[0]?.field).toBe("username");
  });

  it("tells the user which Google username fits the key they pasted", () => {
    expect(checkCredentialsForProvider(GAR, "_json_key", SA_BASE64).errors[0]?.message).toMatch(/_json_key_base64/);
    expect(checkCredentialsForProvider(GAR, "_json_key_base64", SA_JSON).errors[0]?.message).toMatch(/use the username _json_key/);
  });

  it("never puts any part of the password (or the username) in a message", () => {
    const secret = "Zq9SECRETxK2";
    const attempts: Array<[string, string, string]> = [
      [ECR, `u${secret}`, `${secret}`],
      [ECR, "AWS", Buffer.from(`AWS:${secret}`).toString("base64")],
      [GAR, "_json_key", `{"type":"${secret}"`],
      [GAR, "_json_key", `{"type":"user","x":"${secret}"}`],
      [GAR, "_json_key_base64", Buffer.from(`{${secret}`).toString("base64")],
      [GAR, "_json_key_base64", `${secret}!`],
      [GAR, "oauth2accesstoken", ` ${secret} `],
      [GAR, secret, secret],
      ["ghcr.io", secret, `${secret} `],
      ["docker.io", `${secret}@example.com`, secret],
      [ACR, `${secret}@example.com`, secret],
      ["https://ghcr.io/Org", secret, secret],
    ];
    for (const [server, username, password] of attempts) {
      const { errors, warnings } = checkCredentialsForProvider(server, username, password);
      expect(errors.length + warnings.length).toBeGreaterThan(0);
      for (const issue of [...errors, ...warnings]) {
        expect(issue.message).not.toContain(secret);
        expect(issue.message).not.toContain(secret.slice(0, 6));
        expect(issue.message).not.toContain(secret.slice(-6));
      }
    }
  });
});

describe("providerHints", () => {
  const providers: ProviderName[] = ["dockerhub", "ghcr", "google", "ecr", "acr", "self_hosted"];

  it.each(providers)("%s has short username and password hints", (provider) => {
    const hints = providerHints(provider);
    expect(Object.keys(hints).sort()).toEqual(["passwordHint", "usernameHint"]);
    expect(hints.usernameHint.length).toBeGreaterThan(0);
    expect(hints.passwordHint.length).toBeLessThanOrEqual(120);
  });

  it("names the usernames providers insist on", () => {
    expect(providerHints("ecr").usernameHint).toBe("AWS");
    expect(providerHints("google").usernameHint).toMatch(/_json_key.*_json_key_base64.*oauth2accesstoken/);
    expect(providerHints("dockerhub").passwordHint).toMatch(/dckr_pat_/);
    expect(providerHints("ghcr").passwordHint).toMatch(/read:packages/);
  });
});

/** A service-account key whose base64 uses every character that tells the two alphabets apart. */
const keyWith = (privateKeyTail: string) =>
  JSON.stringify({
    type: "service_account",
    client_email: "puller@demo.iam.gserviceaccount.com",
    private_key: `-----BEGIN PRIVATE KEY-----\n???~~~>>>???~~~>>>${privateKeyTail}\n-----END PRIVATE KEY-----\n`,
  });
const KEY_UNPADDED = Buffer.from(keyWith("xy")).toString("base64");
const KEY_PADDED = Buffer.from(keyWith("")).toString("base64");
const KEY_URL_SAFE = Buffer.from(keyWith("xy")).toString("base64url");
const KEY_URL_SAFE_PADDED = `${Buffer.from(keyWith("")).toString("base64url")}==`;

describe("checkCredentialsForProvider: every issue, with its field and its words", () => {
  const whitespace = {
    username: { code: "username_whitespace", field: "username", message: "username starts or ends with whitespace" },
    password: { code: "password_whitespace", field: "password", message: "password starts or ends with whitespace" },
  };
  const ecrExpiry = { code: "ecr_token_expiry", field: "password", message: "ECR passwords are tokens that expire after 12 hours; refresh them before then" };

  it.each([
    ["ecr username", ECR, "admin", ECR_PASSWORD, [{ code: "ecr_username", field: "username", message: "ECR expects the username AWS" }], [ecrExpiry]],
    [
      "ecr whole token",
      ECR,
      "AWS",
      ECR_WHOLE_TOKEN,
      [
        {
          code: "ecr_password_encoded",
          field: "password",
          message: "the password is the whole base64 ECR authorization token: use the part after AWS: once decoded (aws ecr get-login-password)",
        },
      ],
      [ecrExpiry],
    ],
    ["whitespace around both", ECR, " AWS", `${ECR_PASSWORD} `, [{ code: "ecr_username", field: "username", message: "ECR expects the username AWS" }], [whitespace.username, whitespace.password, ecrExpiry]],
    [
      "google username",
      GAR,
      "bob",
      SA_JSON,
      [{ code: "google_username", field: "username", message: "Google registries expect the username _json_key, _json_key_base64 or oauth2accesstoken" }],
      [],
    ],
    [
      "_json_key with a base64 key",
      GAR,
      "_json_key",
      SA_BASE64,
      [{ code: "google_json_key", field: "password", message: "the password is base64-encoded: use the username _json_key_base64, or paste the JSON key itself" }],
      [],
    ],
    [
      "_json_key with what is no key at all",
      GAR,
      "_json_key",
      "not json",
      [
        {
          code: "google_json_key",
          field: "password",
          message: 'with _json_key the password must be a service-account JSON key ("type": "service_account", with client_email and private_key)',
        },
      ],
      [],
    ],
    [
      "_json_key_base64 with the JSON key itself",
      GAR,
      "_json_key_base64",
      SA_JSON,
      [{ code: "google_json_key_base64", field: "password", message: "the password is the JSON key itself: use the username _json_key, or base64-encode the key" }],
      [],
    ],
    [
      "_json_key_base64 with no key",
      GAR,
      "_json_key_base64",
      "bm90IGpzb24=",
      [
        {
          code: "google_json_key_base64",
          field: "password",
          message: 'with _json_key_base64 the password must be the base64 of a service-account JSON key ("type": "service_account")',
        },
      ],
      [],
    ],
    [
      "oauth2accesstoken with a key",
      GAR,
      "oauth2accesstoken",
      SA_JSON,
      [{ code: "google_access_token", field: "password", message: "the password is a service-account key: use the username _json_key or _json_key_base64" }],
      [],
    ],
    [
      "oauth2accesstoken with a token",
      GAR,
      "oauth2accesstoken",
      "ya29.a0AfH6SMBexample",
      [],
      [{ code: "google_token_expiry", field: "password", message: "access tokens expire after about an hour; a service-account key (_json_key_base64) does not" }],
    ],
    [
      "ghcr fine-grained token",
      "ghcr.io",
      "octocat",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
      [],
      [
        {
          code: "ghcr_fine_grained_token",
          field: "password",
          message: "GitHub Packages documents classic personal access tokens (ghp_) with read:packages; a fine-grained token may be refused",
        },
      ],
    ],
    [
      "ghcr account password",
      "ghcr.io",
      "octocat",
      "hunter2",
      [],
      [
        {
          code: "ghcr_token_format",
          field: "password",
          message: "ghcr.io accepts GitHub tokens only (a personal access token ghp_… with read:packages), not an account password",
        },
      ],
    ],
    [
      "docker hub password and email",
      "docker.io",
      "me@example.com",
      "hunter2",
      [],
      [
        { code: "dockerhub_password", field: "password", message: "use a Docker Hub personal access token (dckr_pat_…) rather than the account password" },
        { code: "dockerhub_username_email", field: "username", message: "Docker Hub expects the Docker ID (username), not the account email" },
      ],
    ],
    [
      "acr email",
      ACR,
      "me@example.com",
      "s3cret",
      [],
      [
        {
          code: "acr_username_email",
          field: "username",
          message:
            "ACR expects the admin user, a service principal (application) id, or 00000000-0000-0000-0000-000000000000 for tokens, not a sign-in email",
        },
      ],
    ],
    [
      "artifact registry host that is not docker",
      "europe-west1-npm.pkg.dev",
      "u",
      "p",
      [],
      [{ code: "google_host", field: "server", message: "Artifact Registry hosts for container images look like <location>-docker.pkg.dev" }],
    ],
    [
      "ecr-like host",
      "123.dkr.ecr.us-east-1.amazonaws.com",
      "AWS",
      "p",
      [],
      [{ code: "ecr_host", field: "server", message: "ECR hosts look like <12-digit account>.dkr.ecr.<region>.amazonaws.com" }],
    ],
    [
      "http server",
      "http://registry.example.com:5000",
      "u",
      "p",
      [],
      [
        {
          code: "insecure_registry",
          field: "server",
          message:
            "this registry is spoken to over plain HTTP: the credential and the images travel unencrypted, and every runtime that pulls from it must be configured to allow it",
        },
      ],
    ],
    ["invalid server", "https://ghcr.io/Org", "u", "p", [{ code: "server_invalid", field: "server", message: "after the host: repository name must be lowercase" }], []],
  ] as const)("%s", (_case, server, username, password, errors, warnings) => {
    expect(checkCredentialsForProvider(server, username, password)).toEqual({ errors, warnings });
  });
});

describe("checkCredentialsForProvider: what counts as a service-account key", () => {
  const codesOf = (server: string, username: string, password: string) => {
    const { errors, warnings } = checkCredentialsForProvider(server, username, password);
    return { errors: codes(errors), warnings: codes(warnings) };
  };

  it.each([
    ["the key", SA_JSON],
    ["the key after a byte order mark (trimmed like other whitespace)", `\uFEFF${SA_JSON}`],
  ])("_json_key accepts %s", (_case, password) => {
    expect(codesOf(GAR, "_json_key", password).errors).toEqual([]);
  });

  it.each([
    ["null", "null"],
    ["a number", "42"],
    ["a string", JSON.stringify("service_account")],
    ["a key whose client_email is not a string", JSON.stringify({ ...serviceAccount, client_email: 42 })],
    ["a key with an empty client_email", JSON.stringify({ ...serviceAccount, client_email: "" })],
    ["a key whose private_key is not a string", JSON.stringify({ ...serviceAccount, private_key: ["x"] })],
    ["a key with an empty private_key", JSON.stringify({ ...serviceAccount, private_key: "" })],
  ])("_json_key refuses %s", (_case, password) => {
    expect(codesOf(GAR, "_json_key", password)).toEqual({ errors: ["google_json_key"], warnings: [] });
  });

  it("the keys used below exercise both base64 alphabets and both paddings", () => {
    expect(KEY_UNPADDED).toMatch(/\+/);
    expect(KEY_UNPADDED).toMatch(/\//);
    expect(KEY_UNPADDED).not.toMatch(/=/);
    expect(KEY_PADDED).toMatch(/==$/);
    expect(KEY_URL_SAFE).toMatch(/-/);
    expect(KEY_URL_SAFE).toMatch(/_/);
    expect(KEY_URL_SAFE).not.toMatch(/=/);
  });

  it.each([
    ["standard base64 without padding", KEY_UNPADDED],
    ["standard base64 with == padding", KEY_PADDED],
    ["URL-safe base64 without padding", KEY_URL_SAFE],
    ["URL-safe base64 with padding", KEY_URL_SAFE_PADDED],
    ["base64 between spaces", ` ${KEY_UNPADDED} `],
    ["base64 broken into lines (CRLF)", KEY_UNPADDED.replace(/(.{64})/g, "$1\r\n")],
  ])("_json_key_base64 accepts %s", (_case, password) => {
    expect(codesOf(GAR, "_json_key_base64", password).errors).toEqual([]);
  });

  it.each([
    // Node's decoder would skip the dots and read the key: the strict check must not.
    ["base64 with characters outside both alphabets", `${KEY_UNPADDED.slice(0, 8)}....${KEY_UNPADDED.slice(8)}`],
    ["base64 mixing the two alphabets", `${KEY_UNPADDED}-_AA`],
    // One character past a multiple of four cannot be base64 (it would carry 6 bits of a byte).
    ["base64 one character too long", `${KEY_UNPADDED}A`],
    ["nothing", ""],
  ])("_json_key_base64 refuses %s", (_case, password) => {
    expect(codesOf(GAR, "_json_key_base64", password).errors).toEqual(["google_json_key_base64"]);
  });

  it.each([
    ["a URL-safe base64 key", KEY_URL_SAFE],
    ["a standard base64 key", KEY_UNPADDED],
  ])("oauth2accesstoken recognises %s as a key, not a token", (_case, password) => {
    expect(codesOf(GAR, "oauth2accesstoken", password)).toEqual({ errors: ["google_access_token"], warnings: [] });
  });
});

describe("checkCredentialsForProvider: ECR passwords", () => {
  it.each([
    // base64 of "AWS:x": 7 characters without padding is too short to be a whole token, 8 with it is not.
    ["QVdTOng", []],
    ["QVdTOng=", ["ecr_password_encoded"]],
    // Not base64 at all: a password, not an authorization token.
    ["not base64: a password!", []],
    [ECR_PASSWORD, []],
  ])("%s → errors %j", (password, errors) => {
    const result = checkCredentialsForProvider(ECR, "AWS", password);
    expect(codes(result.errors)).toEqual(errors);
    expect(codes(result.warnings)).toEqual(["ecr_token_expiry"]);
  });
});

describe("checkCredentialsForProvider: near misses and email-like usernames", () => {
  it.each([
    ["mirror.pkg.dev.example.com", []],
    ["api.ecr.us-east-1.amazonaws.com:8443", ["ecr_host"]],
    ["api.ecr.us-east-1.amazonaws.com.example.com", []],
    ["api.ecr.cn-north-1.amazonaws.com.cn", ["ecr_host"]],
  ])("self-hosted %s warns %j", (server, warnings) => {
    expect(codes(checkCredentialsForProvider(server, "u", "p").warnings)).toEqual(warnings);
  });

  it.each([
    [" me@example.com ", ["dockerhub_username_email", "username_whitespace"]],
    ["my name@example.com", []],
    ["me@example.com extra", []],
    ["me@example", []],
    ["me", []],
  ])("Docker Hub username %j warns %j", (username, warnings) => {
    expect(codes(checkCredentialsForProvider("docker.io", username, "dckr_pat_abcdefghijklmnop").warnings)).toEqual(warnings);
  });
});
