/**
 * What the command-line tools (cli.ts: tokens, keys-cli.ts: keys) share: how they run, how they
 * open the database, and what they print when they fail.
 */
import { existsSync } from "node:fs";
import { KeyringConfigError } from "@modbox/crypto";
import { ConfigError, type DatabaseLocation } from "./config.js";
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
  config: DatabaseLocation,
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
 * The database a command works on, in one line for the operator: `embedded database at <data
 * dir>` or `PostgreSQL at host:port/database`. Never the URL as written: it may hold a password
 * (in its user part or its query), so only the host, port and database name are read from it.
 */
export function describeDatabase(location: DatabaseLocation): string {
  if (location.database.kind === "pglite") return `embedded database at ${location.dataDir}`;
  let url: URL;
  try {
    url = new URL(location.database.url);
  } catch {
    return "PostgreSQL (DATABASE_URL)";
  }
  const host = url.hostname || url.searchParams.get("host") || "localhost";
  const port = url.port || "5432";
  const name = safeDecode(url.pathname.replace(/^\//, ""));
  return `PostgreSQL at ${host}:${port}/${name || "(the user's default database)"}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The embedded database a command was pointed at does not exist: nothing was created. */
export class EmbeddedDatabaseMissingError extends Error {
  override name = "EmbeddedDatabaseMissingError";
  constructor(readonly dataDir: string) {
    super(
      `No embedded database in ${dataDir} (MODBOX_DATA_DIR, default ./.modbox from the current directory). ` +
        "The server creates it at its first start. Run this where the server runs, or set MODBOX_DATA_DIR to the server's data directory, " +
        "or DATABASE_URL=postgres://… for PostgreSQL. Nothing was created.",
    );
  }
}

/**
 * For commands that read or change what the server stored (tokens): on the embedded database,
 * refuses a data directory with no database in it rather than creating a fresh one, which would
 * hold the command's work where no server looks (a forgotten DATABASE_URL, the wrong directory).
 */
export function requireExistingDatabase(location: DatabaseLocation): void {
  if (location.database.kind === "pglite" && !existsSync(location.database.dataDir)) {
    throw new EmbeddedDatabaseMissingError(location.dataDir);
  }
}

/**
 * What a command prints when it fails. Our own errors are written for the operator; a database
 * error is named by its SQLSTATE only, since a driver's message lists bound values (ciphertexts).
 */
export function describeCliError(err: unknown): string {
  if (
    err instanceof ConfigError ||
    err instanceof EmbeddedDatabaseMissingError ||
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
