/**
 * What the command-line tools (cli.ts: tokens, keys-cli.ts: keys) share: how they run, how they
 * open the database, and what they print when they fail.
 */
import { KeyringConfigError } from "@modbox/crypto";
import { ConfigError, type Config } from "./config.js";
import { openDatabase, type DatabaseHandle } from "./db/client.js";
import { classifyDatabaseError } from "./db/errors.js";
import { migrateDatabase } from "./db/migrate.js";
import { KeyCustodyError } from "./services/key-custody.js";
import { DataDirLockedError, lockDataDir } from "./startup/data-dir-lock.js";
import { DataDirOwnershipError, makeDataDirPrivate } from "./startup/private-dir.js";

/**
 * The database as the command-line tools open it: the embedded database under the data
 * directory's lock (so a command never writes beside a running server) in a directory kept
 * private, PostgreSQL through one connection; migrated in both cases. `close()` releases both.
 */
export async function openCliDatabase(
  config: Config,
  purpose: string,
): Promise<{ database: DatabaseHandle; close(): Promise<void> }> {
  const release = config.database.kind === "pglite" ? await lockDataDir(config.dataDir, purpose) : null;
  let database: DatabaseHandle | undefined;
  try {
    if (release) await makeDataDirPrivate(config.dataDir, { warn: (_, message) => process.stderr.write(`modbox: ${message}\n`) });
    database = await openDatabase(
      config.database.kind === "postgres"
        ? { kind: "postgres", url: config.database.url, maxConnections: 1 }
        : { kind: "pglite", dataDir: config.database.dataDir },
    );
    await migrateDatabase(database);
  } catch (err) {
    await database?.close().catch(() => {});
    await release?.();
    throw err;
  }
  const opened = database;
  return {
    database: opened,
    close: async () => {
      await opened.close();
      await release?.();
    },
  };
}

/**
 * What a command prints when it fails. Our own errors are written for the operator; a database
 * error is named by its SQLSTATE only, since a driver's message lists bound values (ciphertexts).
 */
export function describeCliError(err: unknown): string {
  if (
    err instanceof ConfigError ||
    err instanceof DataDirLockedError ||
    err instanceof DataDirOwnershipError ||
    err instanceof KeyCustodyError
  ) {
    return err.message;
  }
  if (err instanceof KeyringConfigError) return `Invalid encryption keys: ${err.message}`;
  const kind = classifyDatabaseError(err);
  if (kind.kind === "unavailable") return "The database cannot be reached (is it running, and is DATABASE_URL right?).";
  if (kind.kind !== "other" || kind.sqlstate) return `The database refused the operation (${kind.kind === "other" ? `SQLSTATE ${kind.sqlstate}` : kind.kind}).`;
  if (!(err instanceof Error) || err.name === "DrizzleQueryError") return "The operation failed.";
  return `${err.name}: ${err.message}`;
}

/**
 * Runs a command's `main` as the process: umask 077 before anything is written (what goes into
 * the data directory is its owner's only), then its exit code, or 1 with an operator message.
 */
export function runCommandLine(main: (argv: string[]) => Promise<number>): void {
  process.umask(0o077);
  main(process.argv.slice(2))
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      process.stderr.write(`modbox: ${describeCliError(err)}\n`);
      process.exit(1);
    });
}
