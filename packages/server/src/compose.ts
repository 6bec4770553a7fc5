import type { Cipher } from "@modbox/crypto";
import type { Logger } from "pino";
import { OPENAPI_SPEC_PATH, type AppDeps } from "./app.js";
import { createAddressLimiter } from "./auth/address-limiter.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiTokenService } from "./services/api-tokens.js";
import type { DatabaseHandle } from "./db/client.js";
import { safeErrorSummary } from "./db/errors.js";
import type { FreeSpaceMonitor } from "./db/free-space.js";
import { createApiTokenRepository } from "./db/repositories/api-tokens.js";
import { createEncryptionKeyRepository } from "./db/repositories/encryption-keys.js";
import { createIdempotencyKeyRepository } from "./db/repositories/idempotency-keys.js";
import { createPullRepository } from "./db/repositories/pulls.js";
import { createRegistryRepository } from "./db/repositories/registries.js";
import { createSandboxImageRepository } from "./db/repositories/sandbox-images.js";
import { httpMetrics } from "./metrics/http-metrics.js";
import { createAwsEcrExchanger, type AwsCredentialsProvider } from "./cloud/aws-ecr.js";
import { createAzureExchanger } from "./cloud/azure-service-principal.js";
import { createExchangeCache } from "./cloud/exchange-cache.js";
import { createGcpExchanger } from "./cloud/gcp-service-account.js";
import { countExchangeFailures, countPullCredentials, countVerifications } from "./metrics/instrument.js";
import type { Metrics } from "./metrics/registry.js";
import { loadPublishedResources } from "./published/resources.js";
import { checkPull, verifyLogin } from "./registry-protocol/outbound/v2-client.js";
import type { OutboundOptions } from "./registry-protocol/outbound/types.js";
import type { EncryptionBudget } from "./services/encryption-budget.js";
import { createIdempotencyService } from "./services/idempotency.js";
import { uuidv7 } from "./services/ids.js";
import { createPullService } from "./services/pulls.js";
import { createRegistryAuth } from "./services/registry-auth.js";
import type { RegistryProber } from "./services/registry-prober.js";
import { createRegistryService } from "./services/registries.js";
import { createSandboxImageService } from "./services/sandbox-images.js";
import { KeyCustodyError, unopenableKeys } from "./services/key-custody.js";

export interface ComposeOptions {
  database: DatabaseHandle;
  cipher: Cipher;
  /** The active key's nonce budget, spent by every password sealed. */
  budget: EncryptionBudget;
  logger: Logger;
  bootstrapToken?: string;
  validateResponses: boolean;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  /** How long a token lookup is trusted without a revocation notice (default 5 s). */
  tokenCacheTtlMs?: number;
  /** Failed authentications per client address per window, and the hold of a 429 (default: not limited). */
  authFailureLimit?: { perAddress: number; windowMs: number; delayMs: number };
  /** Express's `trust proxy` (default false: the peer address is the client). */
  trustProxy?: boolean | number | string;
  /** How the server may reach registries (SSRF policy, timeouts; tests add a DNS double). */
  outbound: OutboundOptions;
  isShuttingDown?: () => boolean;
  /** Embedded database: the free space guard (see db/free-space.ts). */
  freeSpace?: FreeSpaceMonitor;
  /** `MODBOX_METRICS_PORT`: what is counted (absent: nothing is, and no request is timed). */
  metrics?: Metrics;
  /**
   * Cloud registries' token exchanges: the operator's endpoints (config.ts), this server's AWS
   * identity for assuming roles (absent: the SDK's default chain; tests inject one), and the
   * clock that ages cached tokens (tests move it instead of waiting).
   */
  cloud?: {
    aws?: { stsEndpoint?: string; ecrEndpoint?: string; serverCredentials?: AwsCredentialsProvider };
    gcp?: { tokenEndpoint?: string };
    azure?: { authorityHost?: string };
    now?: () => Date;
  };
}

/** The registry v2 client bound to the operator's outbound policy. */
export function createRegistryProber(outbound: OutboundOptions): RegistryProber {
  return {
    verifyLogin: (endpoint, credentials) => verifyLogin(endpoint, credentials, outbound),
    checkPull: (endpoint, repository, reference, credentials) =>
      checkPull(endpoint, repository, reference, credentials, outbound),
  };
}

/** Wires repositories → services → app dependencies. The one place the object graph is built. */
export function composeApp(options: ComposeOptions): AppDeps {
  const { db } = options.database;
  const keys = createEncryptionKeyRepository(db);
  const registryRepository = createRegistryRepository(db);
  const imageRepository = createSandboxImageRepository(db);
  const { metrics } = options;
  const prober = metrics ? countVerifications(createRegistryProber(options.outbound), metrics) : createRegistryProber(options.outbound);
  const pullRepository = metrics ? countPullCredentials(createPullRepository(db), metrics) : createPullRepository(db);
  metrics?.watchEncryptions(options.cipher, keys, (err) =>
    options.logger.debug({ err: safeErrorSummary(err) }, "metrics: could not read the encryption keys' budget"),
  );
  const now = () => new Date();
  const newId = () => uuidv7();
  const aws = options.cloud?.aws ?? {};
  const registryAuth = createRegistryAuth({
    exchangers: {
      aws_ecr: createAwsEcrExchanger({
        ...(aws.stsEndpoint !== undefined && { stsEndpoint: aws.stsEndpoint }),
        ...(aws.ecrEndpoint !== undefined && { ecrEndpoint: aws.ecrEndpoint }),
        ...(aws.serverCredentials !== undefined && { serverCredentials: aws.serverCredentials }),
        timeoutMs: options.outbound.timeoutMs ?? 5000,
      }),
      gcp_service_account: createGcpExchanger({
        ...(options.cloud?.gcp?.tokenEndpoint !== undefined && { tokenEndpoint: options.cloud.gcp.tokenEndpoint }),
        timeoutMs: options.outbound.timeoutMs ?? 5000,
      }),
      // ACR's /oauth2/exchange is on the registry host: the operator's outbound policy applies.
      azure_service_principal: createAzureExchanger({
        ...(options.cloud?.azure?.authorityHost !== undefined && { authorityHost: options.cloud.azure.authorityHost }),
        outbound: options.outbound,
        timeoutMs: options.outbound.timeoutMs ?? 5000,
        now: options.cloud?.now ?? now,
      }),
    },
    // One cache for the process: a token exchanged for a pull check serves the pull credentials.
    cache: createExchangeCache({ now: options.cloud?.now ?? now }),
  });
  const tokenRepository = createApiTokenRepository(db);
  const authenticator = createAuthenticator({
    tokens: tokenRepository,
    ...(options.bootstrapToken !== undefined && { bootstrapToken: options.bootstrapToken }),
    ...(options.tokenCacheTtlMs !== undefined && { cacheTtlMs: options.tokenCacheTtlMs }),
    ...(options.authFailureLimit && {
      addressLimiter: createAddressLimiter({
        maxFailures: options.authFailureLimit.perAddress,
        windowMs: options.authFailureLimit.windowMs,
        onBlocked: (address, failures) =>
          options.logger.warn({ address, failures }, "failed authentications from this address reached the limit: unknown tokens get 429 until the window ends"),
      }),
      throttleHoldMs: options.authFailureLimit.delayMs,
    }),
  });
  return {
    logger: options.logger,
    authenticate: authenticator,
    // A revocation made here is dropped from this process's cache before it is answered; the
    // repository's NOTIFY tells every server (this one again: harmless).
    tokens: createApiTokenService({ tokens: tokenRepository, newId, now, onRevoked: (id) => authenticator.forgetToken(id) }),
    registries: createRegistryService({
      registries: registryRepository,
      cipher: options.cipher,
      budget: options.budget,
      prober,
      registryAuth: metrics ? countExchangeFailures(registryAuth, metrics) : registryAuth,
      ...(options.outbound.insecureRegistries && { insecureRegistries: options.outbound.insecureRegistries }),
      newId,
      now,
    }),
    sandboxImages: createSandboxImageService({ images: imageRepository, registries: registryRepository, newId, now }),
    pulls: createPullService({
      pulls: pullRepository,
      registries: registryRepository,
      cipher: options.cipher,
      prober,
      registryAuth,
      newId,
      now,
    }),
    idempotency: createIdempotencyService({
      keys: createIdempotencyKeyRepository(db),
      cipher: options.cipher,
      now,
      onSweepError: (err) => options.logger.warn({ err: safeErrorSummary(err) }, "could not delete expired idempotency keys"),
    }),
    readiness: {
      // Ready means the database answers AND every key that seals a password is one this process
      // holds: an instance started with the wrong keys, or a key another instance began sealing
      // with, must not take traffic it would answer with credential_undecryptable.
      ping: async () => {
        const unopenable = await unopenableKeys(keys, options.cipher);
        if (unopenable.length > 0) {
          options.logger.warn({ keyIds: unopenable }, "not ready: stored passwords are sealed by keys this server does not hold");
          throw new KeyCustodyError(`stored passwords need key(s) ${unopenable.join(", ")}`);
        }
      },
      isShuttingDown: options.isShuttingDown ?? (() => false),
    },
    published: loadPublishedResources(OPENAPI_SPEC_PATH),
    ...(options.freeSpace && { freeSpace: options.freeSpace }),
    ...(metrics && { httpMetrics: httpMetrics(metrics.httpRequestDuration) }),
    options: {
      validateResponses: options.validateResponses,
      bodyLimitBytes: options.bodyLimitBytes,
      rateLimitPerMinute: options.rateLimitPerMinute,
      ...(options.trustProxy !== undefined && { trustProxy: options.trustProxy }),
    },
  };
}
