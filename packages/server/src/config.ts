import { isIP } from "node:net";
import { resolve } from "node:path";
import { z } from "zod";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./logging.js";
import { NO_INSECURE_REGISTRIES, parseInsecureRegistries, type InsecureRegistries } from "./registry-protocol/insecure-registries.js";
import { readSecretFiles, type SecretSetting } from "./secret-files.js";

/**
 * Every setting the server reads, parsed once from the environment at start.
 * Invalid values stop the start with a message naming the variable, never its value
 * (several of them are secrets). The secrets may also come from files (`<NAME>_FILE`,
 * secret-files.ts).
 */
const booleanFlag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/**
 * Express's `trust proxy`: "false" (the default: the peer address is the client), "true" (trust
 * every X-Forwarded-For hop: only when no client can reach the server but through the proxy), a
 * number of proxy hops, or the proxies' addresses (IP, CIDR, or loopback / linklocal /
 * uniquelocal), comma-separated.
 */
const trustProxy = z
  .string()
  .trim()
  .refine(
    (v) =>
      /^(true|false|\d+)$/.test(v) ||
      v.split(",").every((entry) => {
        const [address, prefix, ...rest] = entry.trim().split("/");
        if (["loopback", "linklocal", "uniquelocal"].includes(address!) && prefix === undefined) return true;
        const version = isIP(address!);
        if (version === 0 || rest.length > 0) return false;
        return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
      }),
    "must be true, false, a number of hops, or comma-separated addresses/CIDRs (or loopback, linklocal, uniquelocal)",
  )
  .transform((v): boolean | number | string => (v === "true" ? true : v === "false" ? false : /^\d+$/.test(v) ? Number(v) : v));

/**
 * `MODBOX_INSECURE_REGISTRIES`: the registries that may be spoken to over plain HTTP, as the
 * Docker daemon's `insecure-registries` (registry-protocol/insecure-registries.ts). Every bad
 * entry is named (the list holds host names, not secrets), so the operator can fix it at once.
 */
const insecureRegistries = z.string().transform((spec, ctx): InsecureRegistries => {
  const parsed = parseInsecureRegistries(spec);
  if (parsed.ok) return parsed.registries;
  for (const error of parsed.errors) {
    ctx.addIssue({
      code: "custom",
      message: `${error} (comma-separated host[:port] entries such as registry.lan:5000, or CIDR ranges such as 10.0.0.0/8)`,
    });
  }
  return z.NEVER;
});

/**
 * `MODBOX_METRICS_PORT`: unset or empty, no metrics listener (and nothing counted); `0`, any free
 * port (tests); otherwise the port.
 */
const metricsPort = z
  .string()
  .trim()
  .refine((v) => v === "" || (/^\d+$/.test(v) && Number(v) <= 65535), "must be a port number (0-65535), or empty for no metrics")
  .transform((v) => (v === "" ? undefined : Number(v)));

/**
 * An operator's endpoint for a cloud provider's token exchange (a private cloud, or a test's fake):
 * an absolute http(s) URL. Never per registry: a user's input never picks where credentials go.
 */
const exchangeEndpoint = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const url = new URL(v);
      return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "";
    } catch {
      return false;
    }
  }, "must be an absolute http:// or https:// URL without credentials");

const envObject = z.object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().min(1).default("127.0.0.1"),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
    MODBOX_DATA_DIR: z.string().min(1).default("./.modbox"),
    MODBOX_ENCRYPTION_KEYS: z.string().min(1).optional(),
    MODBOX_ENCRYPTION_ACTIVE_KEY: z.string().min(1).optional(),
    MODBOX_BOOTSTRAP_TOKEN: z
      .string()
      .regex(/^mbx_[A-Za-z0-9_-]{20,200}$/, "must look like mbx_ followed by at least 20 of [A-Za-z0-9_-]")
      .optional(),
    MODBOX_LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
    MODBOX_LOG_FORMAT: z.enum(LOG_FORMATS).optional(),
    MODBOX_VALIDATE_RESPONSES: booleanFlag.optional(),
    MODBOX_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
    MODBOX_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
    MODBOX_TOKEN_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
    MODBOX_AUTH_FAILURES_PER_ADDRESS: z.coerce.number().int().min(0).default(20),
    MODBOX_AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    MODBOX_AUTH_FAILURE_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
    MODBOX_TRUST_PROXY: trustProxy.optional(),
    MODBOX_DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
    MODBOX_DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(60).default(5),
    MODBOX_OUTBOUND_ALLOW_PRIVATE: booleanFlag.default(false),
    MODBOX_OUTBOUND_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
    MODBOX_INSECURE_REGISTRIES: insecureRegistries.optional(),
    MODBOX_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
    // Embedded database only. Above PGlite's 16 MiB write-ahead-log segment, with room for a
    // second of writes: see db/free-space.ts. 0 turns the guard off.
    MODBOX_MIN_FREE_DISK_MB: z.coerce.number().int().min(0).max(1024 * 1024).default(64),
    MODBOX_METRICS_PORT: metricsPort.optional(),
    MODBOX_METRICS_HOST: z.string().trim().min(1).optional(),
    MODBOX_AWS_STS_ENDPOINT: exchangeEndpoint.optional(),
    MODBOX_AWS_ECR_ENDPOINT: exchangeEndpoint.optional(),
    MODBOX_GCP_TOKEN_ENDPOINT: exchangeEndpoint.optional(),
    MODBOX_AZURE_AUTHORITY_HOST: exchangeEndpoint.optional(),
    NODE_ENV: z.string().optional(),
});

const envSchema = envObject
  .refine((env) => !(env.MODBOX_ENCRYPTION_ACTIVE_KEY && !env.MODBOX_ENCRYPTION_KEYS), {
    message: "MODBOX_ENCRYPTION_ACTIVE_KEY is set but MODBOX_ENCRYPTION_KEYS is not",
    path: ["MODBOX_ENCRYPTION_ACTIVE_KEY"],
  })
  .refine((env) => env.MODBOX_METRICS_PORT === undefined || env.MODBOX_METRICS_PORT === 0 || env.MODBOX_METRICS_PORT !== env.PORT, {
    message: "must differ from PORT: metrics are served on a listener of their own, never on the API's port",
    path: ["MODBOX_METRICS_PORT"],
  })
  .refine((env) => !(env.MODBOX_METRICS_HOST !== undefined && env.MODBOX_METRICS_PORT === undefined), {
    message: "MODBOX_METRICS_HOST is set but MODBOX_METRICS_PORT is not (metrics are off unless it is)",
    path: ["MODBOX_METRICS_HOST"],
  })
  .refine((env) => !(env.DATABASE_URL && !env.MODBOX_ENCRYPTION_KEYS), {
    message:
      "MODBOX_ENCRYPTION_KEYS is required with DATABASE_URL: a generated key would live on one machine only. " +
      "Create one with `npm run tokens -- generate-key` and keep it in your secret store",
    path: ["MODBOX_ENCRYPTION_KEYS"],
  });

export type DatabaseConfig =
  | { kind: "postgres"; url: string; poolSize: number; connectTimeoutSeconds: number }
  | { kind: "pglite"; dataDir: string };

export interface Config {
  port: number;
  host: string;
  database: DatabaseConfig;
  /** Where the embedded database and a generated key file live. */
  dataDir: string;
  encryption: { keysSpec?: string; activeKeyId?: string };
  bootstrapToken?: string;
  logLevel: LogLevel;
  /**
   * `MODBOX_LOG_FORMAT` as set; unset: pretty on a terminal outside production, JSON otherwise
   * (resolveLogFormat in logging.ts decides, in main.ts, which knows whether stdout is a terminal).
   */
  logFormat?: LogFormat;
  /** NODE_ENV is "production". */
  production: boolean;
  validateResponses: boolean;
  bodyLimitBytes: number;
  /**
   * Requests per minute per token, counted by each instance on its own (behind N instances a
   * token may make up to N times this); 0 turns rate limiting off.
   */
  rateLimitPerMinute: number;
  /**
   * How long a token lookup is trusted without asking the database, when no revocation notice
   * arrives (notices make a revocation take effect within a second; this bounds a missed one).
   */
  tokenCacheTtlMs: number;
  /**
   * Failed authentications a client address may make per window before tokens this instance does
   * not already know are answered 429 without a database query (held `delayMs` first, so a
   * client looping on refused tokens cannot keep the process busy); 0 turns it off. Per instance.
   */
  authFailureLimit: { perAddress: number; windowMs: number; delayMs: number };
  /** Express's `trust proxy`: which X-Forwarded-For hops give the client address (false: none). */
  trustProxy: boolean | number | string;
  shutdownTimeoutMs: number;
  /** Embedded database: writes are refused (503) while less than this is free under the data directory; 0 = never. */
  minFreeDiskBytes: number;
  /**
   * Calls to registries (verification, pull checks): hosts users typed, so guarded against SSRF.
   * `insecureRegistries`: the hosts whose `http://` servers may be saved and spoken to over plain
   * HTTP (none by default).
   */
  outbound: { allowPrivate: boolean; timeoutMs: number; insecureRegistries: InsecureRegistries };
  /**
   * Prometheus metrics on a listener of their own (never the API's port), without a token, so on
   * a private address by default; null: off, nothing is counted.
   */
  metrics: { host: string; port: number } | null;
  /**
   * Cloud registries' token exchanges: where they go instead of the providers' own endpoints
   * (unset: the providers'). The server's own AWS identity comes from the SDK's default chain.
   */
  cloud: { aws: { stsEndpoint?: string; ecrEndpoint?: string }; gcp: { tokenEndpoint?: string }; azure: { authorityHost?: string } };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where the database is, as the command-line tools that need nothing else read it. */
export type DatabaseLocation = Pick<Config, "database" | "dataDir">;

/**
 * Only the database settings (DATABASE_URL, MODBOX_DATA_DIR and the pool's), with the same rules
 * as `loadConfig`: what `npm run tokens` needs. Tokens are hashed, not encrypted, so no
 * encryption key is read or required, and no other setting can stop a token command.
 */
export function loadDatabaseLocation(env: NodeJS.ProcessEnv): DatabaseLocation {
  return databaseLocationOf(
    parseOrThrow(
      envObject.pick({ DATABASE_URL: true, MODBOX_DATA_DIR: true, MODBOX_DB_POOL_SIZE: true, MODBOX_DB_CONNECT_TIMEOUT_SECONDS: true }),
      env,
      ["DATABASE_URL"],
    ),
  );
}

/** Parses the environment once; throws ConfigError naming each bad variable (never its value). */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const e = parseOrThrow(envSchema, env);
  return {
    port: e.PORT,
    host: e.HOST,
    ...databaseLocationOf(e),
    encryption: { keysSpec: e.MODBOX_ENCRYPTION_KEYS, activeKeyId: e.MODBOX_ENCRYPTION_ACTIVE_KEY },
    bootstrapToken: e.MODBOX_BOOTSTRAP_TOKEN,
    logLevel: e.MODBOX_LOG_LEVEL,
    ...(e.MODBOX_LOG_FORMAT !== undefined && { logFormat: e.MODBOX_LOG_FORMAT }),
    production: e.NODE_ENV === "production",
    // Response validation catches contract drift (and a leaked write-only field) loudly; it costs
    // time on the hot path, so production may switch it off.
    validateResponses: e.MODBOX_VALIDATE_RESPONSES ?? e.NODE_ENV !== "production",
    bodyLimitBytes: e.MODBOX_BODY_LIMIT_BYTES,
    rateLimitPerMinute: e.MODBOX_RATE_LIMIT_PER_MINUTE,
    tokenCacheTtlMs: e.MODBOX_TOKEN_CACHE_SECONDS * 1000,
    authFailureLimit: {
      perAddress: e.MODBOX_AUTH_FAILURES_PER_ADDRESS,
      windowMs: e.MODBOX_AUTH_FAILURE_WINDOW_SECONDS * 1000,
      delayMs: e.MODBOX_AUTH_FAILURE_DELAY_MS,
    },
    trustProxy: e.MODBOX_TRUST_PROXY ?? false,
    shutdownTimeoutMs: e.MODBOX_SHUTDOWN_TIMEOUT_MS,
    minFreeDiskBytes: e.MODBOX_MIN_FREE_DISK_MB * 1024 * 1024,
    outbound: {
      allowPrivate: e.MODBOX_OUTBOUND_ALLOW_PRIVATE,
      timeoutMs: e.MODBOX_OUTBOUND_TIMEOUT_MS,
      insecureRegistries: e.MODBOX_INSECURE_REGISTRIES ?? NO_INSECURE_REGISTRIES,
    },
    metrics: e.MODBOX_METRICS_PORT === undefined ? null : { host: e.MODBOX_METRICS_HOST ?? "127.0.0.1", port: e.MODBOX_METRICS_PORT },
    cloud: {
      aws: {
        ...(e.MODBOX_AWS_STS_ENDPOINT !== undefined && { stsEndpoint: e.MODBOX_AWS_STS_ENDPOINT }),
        ...(e.MODBOX_AWS_ECR_ENDPOINT !== undefined && { ecrEndpoint: e.MODBOX_AWS_ECR_ENDPOINT }),
      },
      gcp: { ...(e.MODBOX_GCP_TOKEN_ENDPOINT !== undefined && { tokenEndpoint: e.MODBOX_GCP_TOKEN_ENDPOINT }) },
      azure: { ...(e.MODBOX_AZURE_AUTHORITY_HOST !== undefined && { authorityHost: e.MODBOX_AZURE_AUTHORITY_HOST }) },
    },
  };
}

/**
 * Reads the `<NAME>_FILE` secrets among `secrets`, then parses with `schema`; throws ConfigError
 * naming each bad variable (never its value).
 */
function parseOrThrow<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv, secrets?: readonly SecretSetting[]): T {
  const withFiles = readSecretFiles(env, secrets);
  if (!withFiles.ok) throw invalid(withFiles.errors);
  const parsed = schema.safeParse(withFiles.env);
  if (!parsed.success) throw invalid(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  return parsed.data;
}

function invalid(problems: string[]): ConfigError {
  return new ConfigError(`Invalid configuration:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
}

/** Where the data is: PostgreSQL when DATABASE_URL is set, else the embedded database in the data directory. */
function databaseLocationOf(e: {
  DATABASE_URL?: string | undefined;
  MODBOX_DATA_DIR: string;
  MODBOX_DB_POOL_SIZE: number;
  MODBOX_DB_CONNECT_TIMEOUT_SECONDS: number;
}): DatabaseLocation {
  const dataDir = resolve(e.MODBOX_DATA_DIR);
  return {
    dataDir,
    database: e.DATABASE_URL
      ? { kind: "postgres", url: e.DATABASE_URL, poolSize: e.MODBOX_DB_POOL_SIZE, connectTimeoutSeconds: e.MODBOX_DB_CONNECT_TIMEOUT_SECONDS }
      : { kind: "pglite", dataDir: resolve(dataDir, "pglite") },
  };
}
