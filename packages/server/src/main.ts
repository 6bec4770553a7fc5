/**
 * The process entry point: the only file that reads the environment and handles signals.
 */
import { KeyringConfigError } from "@modbox/crypto";
import { ConfigError, loadConfig } from "./config.js";
import { postgresTarget } from "./db/client.js";
import { diskFullAtStart } from "./db/free-space.js";
import { createLogger, prettyDestination, resolveLogFormat } from "./logging.js";
import { logStartupFailure, startServer } from "./server.js";
import { KeyCustodyError } from "./services/key-custody.js";
import { describePostgresStartFailure } from "./startup/database-failure.js";
import { DataDirLockedError } from "./startup/data-dir-lock.js";
import { ListenError } from "./startup/listen.js";
import { DataDirOwnershipError } from "./startup/private-dir.js";
import { ShutdownSignals } from "./startup/shutdown-signals.js";

/** After the embedded database failed for good: how long in-flight answers get before exit. */
const FAILURE_EXIT_GRACE_MS = 2_000;

async function main(): Promise<void> {
  // Before anything else: a SIGTERM that arrives while starting (the embedded database takes
  // seconds) must not kill the process half-way, nor be ignored (Node as a container's PID 1 has
  // no default signal action). It stops the server as soon as there is one (shutdown-signals.ts).
  const signals = new ShutdownSignals();
  // Before anything is written: what goes into the data directory is its owner's only.
  process.umask(0o077);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  const format = resolveLogFormat(config.logFormat, { isTTY: process.stdout.isTTY === true, production: config.production });
  const logger = createLogger(config.logLevel, format === "pretty" ? await prettyDestination() : undefined);
  signals.starting(logger, config.shutdownTimeoutMs);
  let server;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof KeyringConfigError) return fail(`Invalid encryption keys: ${err.message}`);
    if (err instanceof ListenError || err instanceof DataDirLockedError || err instanceof DataDirOwnershipError || err instanceof KeyCustodyError) {
      return fail(err.message);
    }
    if (config.database.kind === "postgres") {
      const message = describePostgresStartFailure(err, postgresTarget(config.database.url), config.database.connectTimeoutSeconds);
      if (message) return fail(message);
    }
    const diskFull = config.database.kind === "pglite" ? diskFullAtStart(err, config.dataDir, config.minFreeDiskBytes) : undefined;
    if (diskFull) return fail(diskFull.message);
    logStartupFailure(logger, err);
    process.exit(1);
  }

  signals.started(server, logger);
  // The embedded database cannot go on (e.g. its disk filled up): say why and exit non-zero, so a
  // supervisor restarts the process. Requests in flight are answered at once (the database refuses
  // them), so the grace is short; nothing is lost by not waiting longer.
  void server.failed.then((message) => {
    process.stderr.write(`modbox: ${message}\n`);
    setTimeout(() => process.exit(1), FAILURE_EXIT_GRACE_MS).unref();
    void server.close().finally(() => process.exit(1));
  });
}

function fail(message: string): never {
  process.stderr.write(`modbox: ${message}\n`);
  process.exit(1);
}

await main();
