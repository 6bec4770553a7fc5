import type { Logger } from "pino";
import { createApp } from "./app.js";
import { listenForRevocations, type RevocationListener } from "./auth/revocation-listener.js";
import { composeApp } from "./compose.js";
import type { Config } from "./config.js";
import { openDatabase, type DatabaseHandle } from "./db/client.js";
import { safeErrorSummary } from "./db/errors.js";
import { createFreeSpaceMonitor } from "./db/free-space.js";
import { migrateDatabase } from "./db/migrate.js";
import { pgliteFailureMessage } from "./db/pglite-failure.js";
import { createApiTokenRepository } from "./db/repositories/api-tokens.js";
import { createEncryptionKeyRepository } from "./db/repositories/encryption-keys.js";
import { createApiTokenService } from "./services/api-tokens.js";
import { startMetricsListener, type MetricsListener } from "./metrics/listener.js";
import { createMetrics } from "./metrics/registry.js";
import { uuidv7 } from "./services/ids.js";
import { lockDataDir } from "./startup/data-dir-lock.js";
import { keySource, resolveKeyring } from "./startup/encryption-keys.js";
import { ensureFirstToken } from "./startup/first-token.js";
import { listenFirst } from "./startup/listen.js";
import { openKeys } from "./startup/open-keys.js";
import { makeDataDirPrivate } from "./startup/private-dir.js";

export interface RunningServer {
  url: string;
  /**
   * Resolves, with a line for the operator, if the embedded database fails for good (a PANIC, e.g.
   * on a full disk): main.ts then exits non-zero so a supervisor restarts the process. Never
   * settles otherwise.
   */
  failed: Promise<string>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes the database. */
  close(): Promise<void>;
}

/**
 * What main.ts logs when {@link startServer} fails without a message for the operator of its own:
 * a database error by its SQLSTATE or code, never its message (a driver's lists bound values).
 * Here rather than in main.ts so the leak scan can run it in-process at every log level.
 */
export function logStartupFailure(logger: Logger, err: unknown): void {
  logger.fatal({ err: safeErrorSummary(err) }, "start-up failed");
}

/**
 * Starts the whole server from a parsed config: the listening socket first (a taken port stops the
 * start before anything is created: see startup/listen.ts; until the app is attached it answers
 * 503, /healthz 200), then the database (migrated under an advisory lock), the keys (self-tested,
 * and checked against every key the database says sealed a password), the first token, and the
 * app. main.ts adds the process concerns (env, signals); tests call this directly.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const { server, url, attach } = await listenFirst(config.host, config.port);
  let releaseLock: (() => Promise<void>) | null = null;
  let database: DatabaseHandle | undefined;
  let revocations: RevocationListener | undefined;
  let metricsListener: MetricsListener | undefined;
  // MODBOX_METRICS_PORT: created before the database, whose handle counts the pool's work.
  const metrics = config.metrics
    ? createMetrics({ dbPoolSize: config.database.kind === "postgres" ? config.database.poolSize : 1 })
    : undefined;
  const pgliteDir = config.database.kind === "pglite" ? config.database.dataDir : undefined;
  let reportFailure: (message: string) => void = () => {};
  const failed = new Promise<string>((resolve) => (reportFailure = resolve));
  try {
    if (config.database.kind === "pglite") {
      releaseLock = await lockDataDir(config.dataDir, "modbox server");
      await makeDataDirPrivate(config.dataDir, logger);
    }
    database = await openDatabase(
      config.database.kind === "postgres"
        ? {
            kind: "postgres",
            url: config.database.url,
            maxConnections: config.database.poolSize,
            connectTimeoutSeconds: config.database.connectTimeoutSeconds,
            ...(metrics && { usage: metrics.pool }),
          }
        : {
            kind: "pglite",
            dataDir: config.database.dataDir,
            onFailure: (failure) => {
              logger.fatal(failure, "the embedded database failed and cannot continue in this process");
              reportFailure(pgliteFailureMessage(failure, config.dataDir, config.minFreeDiskBytes));
            },
            ...(metrics && { usage: metrics.pool }),
          },
    );
    await migrateDatabase(database);

    // Keys are checked against what the database holds before anything is served or written.
    const keyring = await resolveKeyring(config, logger, createEncryptionKeyRepository(database.db));
    const { cipher, budget } = await openKeys(database.db, keyring, logger, keySource(config));

    const tokenService = createApiTokenService({
      tokens: createApiTokenRepository(database.db),
      newId: () => uuidv7(),
      now: () => new Date(),
    });
    await ensureFirstToken(config, tokenService, logger);
    if (config.outbound.insecureRegistries.entries.length > 0) {
      logger.warn(
        { insecureRegistries: config.outbound.insecureRegistries.entries },
        "MODBOX_INSECURE_REGISTRIES: registries on these hosts may be saved as http:// servers and are spoken to over plain HTTP",
      );
    }

    let shuttingDown = false;
    const deps = composeApp({
      database,
      cipher,
      budget,
      logger,
      ...(config.bootstrapToken !== undefined && { bootstrapToken: config.bootstrapToken }),
      validateResponses: config.validateResponses,
      bodyLimitBytes: config.bodyLimitBytes,
      rateLimitPerMinute: config.rateLimitPerMinute,
      tokenCacheTtlMs: config.tokenCacheTtlMs,
      authFailureLimit: config.authFailureLimit,
      trustProxy: config.trustProxy,
      outbound: config.outbound,
      cloud: config.cloud,
      isShuttingDown: () => shuttingDown,
      ...(pgliteDir !== undefined &&
        config.minFreeDiskBytes > 0 && {
          freeSpace: createFreeSpaceMonitor({ dir: pgliteDir, minFreeBytes: config.minFreeDiskBytes, logger }),
        }),
      ...(metrics && { metrics }),
    });
    // Before the first request: no token is cached that a revocation notice could miss.
    revocations = await listenForRevocations(database, deps.authenticate, logger);
    const app = createApp(deps);
    if (metrics && config.metrics) {
      // Before the API listens: a metrics port that cannot be bound stops the start.
      metricsListener = await startMetricsListener(metrics.registry, {
        ...config.metrics,
        onError: (err) => logger.error({ err: safeErrorSummary(err) }, "metrics could not be collected"),
      });
      logger.info({ metricsUrl: metricsListener.url }, "metrics listening");
    }
    attach(app);
    logger.info(
      { url, database: database.kind, keyIds: keyring.keyIds, activeKeyId: keyring.activeKeyId },
      "modbox registries server listening",
    );

    const db = database;
    const listener = revocations;
    const metricsServer = metricsListener;
    const unlock = releaseLock;
    let closing: Promise<void> | undefined;
    return {
      url,
      failed,
      close: () =>
        (closing ??= (async () => {
          shuttingDown = true;
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
          await closed;
          clearTimeout(timer);
          await metricsServer?.close();
          await listener.stop();
          await db.close();
          await unlock?.();
          logger.info("server stopped");
        })()),
    };
  } catch (err) {
    await metricsListener?.close();
    await revocations?.stop();
    await database?.close().catch(() => {});
    await releaseLock?.();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
}
