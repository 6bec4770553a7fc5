/**
 * The `aws_ecr` exchange: a stored AWS credential for an ECR token, with AWS's own SDK.
 *
 * - A key pair asks `ecr:GetAuthorizationToken` directly.
 * - A role is assumed first (`sts:AssumeRole`, `ExternalId` = the workspace id, so a role trusted
 *   for one workspace cannot be borrowed from another) with this server's own AWS identity (the
 *   SDK's default credential chain, or what the operator injects), then asks for the token with
 *   the session's credentials.
 *
 * Both calls go to AWS's endpoints for the region of the registry host (registry-protocol/
 * ecr-hosts.ts checks it looks like a region), FIPS or dual-stack as the host is; only the
 * operator can point them elsewhere (MODBOX_AWS_STS_ENDPOINT, MODBOX_AWS_ECR_ENDPOINT: tests and
 * private clouds), never a registry. The token is `AWS:<password>` in base64; it works until
 * `expiresAt` (12 hours), and never past the assumed session.
 */
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { ExchangedToken } from "./exchange-cache.js";
import { parseAwsEcrSecret, type AwsEcrSecret } from "./aws-ecr-secret.js";
import { parseEcrServer } from "../registry-protocol/ecr-hosts.js";
import { ExchangeError, type CredentialExchanger } from "./exchanger.js";

/** What `fromEnv`, `fromNodeProviderChain` and static credentials give the SDK. */
export type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date };
export type AwsCredentialsProvider = AwsCredentials | (() => Promise<AwsCredentials>);

export interface AwsEcrExchangeOptions {
  /** `MODBOX_AWS_STS_ENDPOINT`: where roles are assumed instead of AWS's regional STS. */
  stsEndpoint?: string;
  /** `MODBOX_AWS_ECR_ENDPOINT`: where tokens are asked for instead of AWS's regional ECR API. */
  ecrEndpoint?: string;
  /** This server's identity for `sts:AssumeRole`; absent: the SDK's default credential chain. */
  serverCredentials?: AwsCredentialsProvider;
  /** Budget of each call to AWS (connect + answer). */
  timeoutMs: number;
}

/** How long an assumed session lasts: AssumeRole's default and the least every role allows. */
const SESSION_SECONDS = 3600;

export function createAwsEcrExchanger(options: AwsEcrExchangeOptions): CredentialExchanger {
  const requestHandler = { requestTimeout: options.timeoutMs, connectionTimeout: options.timeoutMs };

  /** The client config of a region: AWS's endpoint for it (FIPS, dual-stack as the host says), or the operator's. */
  function endpointConfig(region: string, override: string | undefined, host: { fips: boolean; dualStack: boolean }) {
    // A custom endpoint takes no FIPS or dual-stack flag (the SDK refuses the pair).
    return override !== undefined
      ? { region, endpoint: override }
      : { region, useFipsEndpoint: host.fips, useDualstackEndpoint: host.dualStack };
  }

  async function assumeRole(roleArn: string, workspaceId: string, registryId: string, region: string, host: { fips: boolean; dualStack: boolean }) {
    const sts = new STSClient({
      ...endpointConfig(region, options.stsEndpoint, host),
      ...(options.serverCredentials !== undefined && { credentials: options.serverCredentials }),
      maxAttempts: 2,
      requestHandler,
    });
    try {
      const { Credentials: c } = await sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          ExternalId: workspaceId,
          RoleSessionName: `modbox-${registryId}`,
          DurationSeconds: SESSION_SECONDS,
        }),
      );
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new ExchangeError("AWS STS answered AssumeRole without credentials");
      }
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    } catch (err) {
      throw asExchangeError(err, "AWS STS refused to assume the role", []);
    } finally {
      sts.destroy();
    }
  }

  return {
    async exchange({ workspaceId, registryId, server, secret }): Promise<ExchangedToken> {
      const host = parseEcrServer(server);
      // Every write checks the host, so a stored aws_ecr server always parses.
      if (!host) throw new ExchangeError("the registry server is not an ECR host");
      const stored: AwsEcrSecret = parseAwsEcrSecret(secret);
      const credentials =
        stored.kind === "access_key"
          ? { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey }
          : await assumeRole(stored.roleArn, workspaceId, registryId, host.region, host);
      const ecr = new ECRClient({ ...endpointConfig(host.region, options.ecrEndpoint, host), credentials, maxAttempts: 2, requestHandler });
      try {
        const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
        const data = authorizationData?.[0];
        const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, "base64").toString("utf8") : "";
        const separator = decoded.indexOf(":");
        if (!data?.expiresAt || separator <= 0) throw new ExchangeError("AWS ECR answered GetAuthorizationToken without a token");
        const expiresAt = "expiration" in credentials && credentials.expiration < data.expiresAt ? credentials.expiration : data.expiresAt;
        return { username: decoded.slice(0, separator), password: decoded.slice(separator + 1), expiresAt };
      } catch (err) {
        const secrets = stored.kind === "access_key" ? [stored.accessKeyId, stored.secretAccessKey] : [];
        throw asExchangeError(err, "AWS ECR refused to issue a token", secrets);
      } finally {
        ecr.destroy();
      }
    },
  };
}

/**
 * The provider's reason in words: AWS's message and error name (`UnrecognizedClientException`,
 * `AccessDenied`, `ExpiredTokenException`), which name ARNs but no secret; anything of the
 * credential that might appear anyway is cut out. A failure to reach AWS says only its kind: a
 * transport error names resolved addresses.
 */
function asExchangeError(err: unknown, refused: string, secrets: readonly string[]): ExchangeError {
  if (err instanceof ExchangeError) return err;
  const e = (err ?? {}) as { name?: unknown; message?: unknown; code?: unknown; $metadata?: unknown };
  const name = typeof e.name === "string" ? e.name : "Error";
  if (e.$metadata !== undefined && typeof e.message === "string") {
    let message = e.message;
    for (const secret of secrets) if (secret) message = message.split(secret).join("[redacted]");
    return new ExchangeError(`${refused}: ${message} (${name})`);
  }
  if (name === "CredentialsProviderError") {
    return new ExchangeError("this server has no AWS identity to assume the role with (the SDK's default credential chain found none)");
  }
  const code = typeof e.code === "string" ? e.code : name;
  return new ExchangeError(`AWS could not be reached (${code})`);
}
