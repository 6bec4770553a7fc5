/**
 * Opens the database: PostgreSQL through postgres.js, or PGlite (PostgreSQL in WASM, in-process)
 * for local runs and tests. Both are handed out as the same drizzle `Db`, so repositories are
 * written once.
 */
import { mkdir } from "node:fs/promises";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { stopAtFirstUnrecoverableError, type PgliteFailure } from "./pglite-failure.js";
import { trackPgliteClient, trackPostgresClient, type PoolUsage } from "./pool-usage.js";
import * as schema from "./schema.js";

/** The common base of both drivers' databases; transactions (`db.transaction`) included. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseOptions =
  | {
      kind: "postgres";
      /** A postgres:// URL, parsed by postgres.js (Unix sockets: `?host=/run/postgresql`). */
      url: string;
      /** Pool size; default 10. */
      maxConnections?: number;
      /** Default 5 s (postgres.js' own is 30 s: a down database must fail fast into a 503). */
      connectTimeoutSeconds?: number;
      /** Metrics: counts the pool's work (see pool-usage.ts); absent, nothing is wrapped. */
      usage?: PoolUsage;
    }
  | {
      kind: "pglite";
      /** A directory for the data files, created if missing; undefined = in-memory. */
      dataDir?: string;
      /** A tarball from `dumpDataDir()`, e.g. a database migrated once and reused by tests. */
      loadDataDir?: Blob | File;
      /**
       * Called once if the database fails for good (a PANIC, e.g. its disk is full): every later
       * query is refused, and the process should exit so a supervisor restarts it.
       * See pglite-failure.ts.
       */
      onFailure?: (failure: PgliteFailure) => void;
      /** Metrics: counts the one session's work (see pool-usage.ts); absent, nothing is wrapped. */
      usage?: PoolUsage;
    };

export interface DatabaseHandle {
  readonly db: Db;
  readonly kind: DatabaseOptions["kind"];
  /** Resolves when the database answers a query; rejects with the driver's error otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * LISTENs on a notification channel: `onNotify` gets each payload; `onListen` runs every time
   * the listen is (re-)established, first before this resolves. Notifications sent while the
   * listen was down are lost, so `onListen` is where a listener resynchronises. Resolves to a
   * function that stops listening.
   */
  listen(channel: string, onNotify: (payload: string) => void, onListen: () => void): Promise<() => Promise<void>>;
  /** PGlite only: the whole data directory as a tarball, for `loadDataDir`. */
  dumpDataDir?(): Promise<Blob>;
}

/**
 * A session whose queries all run on one connection, as a session-level advisory lock needs.
 * Internal to this folder (the migrator); not re-exported.
 */
export type DedicatedSession =
  | { kind: "postgres"; db: PostgresJsDatabase<typeof schema>; release(): Promise<void> }
  | { kind: "pglite"; db: PgliteDatabase<typeof schema>; release(): Promise<void> };

const dedicatedSessions = new WeakMap<DatabaseHandle, () => Promise<DedicatedSession>>();

/** Opens a single-connection session on the handle's database (the migrator uses it). */
export function openDedicatedSession(handle: DatabaseHandle): Promise<DedicatedSession> {
  const open = dedicatedSessions.get(handle);
  if (!open) throw new Error("not a handle returned by openDatabase");
  return open();
}

/** Where a PostgreSQL URL points, as postgres.js reads it (environment defaults included). */
export interface PostgresTarget {
  /** `host:port` (several, comma-separated), or the Unix socket's path. */
  where: string;
  database: string;
  user: string;
  /** Only so that a message can make sure not to contain it. */
  password: string;
}

/**
 * What postgres.js would connect to for `url`, read from the client it builds (which connects
 * only when queried: nothing is opened here); undefined when postgres.js cannot parse the URL.
 */
export function postgresTarget(url: string): PostgresTarget | undefined {
  let client: postgres.Sql;
  try {
    client = postgres(url, { max: 1, onnotice: () => {} });
  } catch {
    return undefined;
  }
  const { host, port, path, database, user, pass } = client.options as unknown as {
    host: string[];
    port: number[];
    path?: string | false;
    database: string;
    user: string;
    pass?: unknown;
  };
  void client.end({ timeout: 0 });
  const where =
    typeof path === "string" && path !== ""
      ? path
      : host.map((h, i) => `${h.includes(":") && !h.startsWith("[") ? `[${h}]` : h}:${port[i] ?? port[0]}`).join(",");
  return { where, database, user, password: typeof pass === "string" ? pass : "" };
}

const DEFAULT_MAX_CONNECTIONS = 10;
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 5;
/** Close idle pooled connections after this long, so a quiet server holds few. */
const IDLE_TIMEOUT_SECONDS = 30;
/** How long close() lets in-flight queries finish before cutting connections. */
const CLOSE_TIMEOUT_SECONDS = 5;

/**
 * Opens a database handle. Nothing is migrated here: call `migrateDatabase(handle)`.
 *
 * @example
 * const handle = await openDatabase({ kind: "postgres", url: process.env.DATABASE_URL! });
 * await migrateDatabase(handle);
 * const registries = createRegistryRepository(handle.db);
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.kind === "postgres" ? openPostgres(options) : openPglite(options);
}

function openPostgres(options: Extract<DatabaseOptions, { kind: "postgres" }>): DatabaseHandle {
  const connect = (max: number) =>
    postgres(options.url, {
      max,
      connect_timeout: options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS,
      idle_timeout: IDLE_TIMEOUT_SECONDS,
      // NOTICEs (e.g. "schema already exists, skipping") are noise, and may quote values.
      onnotice: () => {},
    });
  // drizzle() replaces the client's type parsers; fine, this client is ours alone.
  const client = connect(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
  const db = drizzlePostgres({ client: options.usage ? trackPostgresClient(client, options.usage) : client, schema });
  const handle: DatabaseHandle = {
    db,
    kind: "postgres",
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.end({ timeout: CLOSE_TIMEOUT_SECONDS }),
    // postgres.js listens on one connection of its own (outside the pool), re-connects it with
    // back-off when it drops and calls onListen again; close() ends it with the pool.
    listen: async (channel, onNotify, onListen) => {
      const { unlisten } = await client.listen(channel, onNotify, onListen);
      return unlisten;
    },
  };
  dedicatedSessions.set(handle, async () => {
    const single = connect(1);
    return {
      kind: "postgres",
      db: drizzlePostgres({ client: single, schema }),
      release: () => single.end({ timeout: CLOSE_TIMEOUT_SECONDS }),
    };
  });
  return handle;
}

async function openPglite(
  options: Extract<DatabaseOptions, { kind: "pglite" }>,
): Promise<DatabaseHandle> {
  const { dataDir, loadDataDir } = options;
  // "memory://" and "idb://" are PGlite's own schemes; anything else is a filesystem path.
  const onDisk = dataDir !== undefined && !dataDir.includes("://");
  if (onDisk) await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Loaded here, not at the top: the PostgreSQL path never needs PGlite's WASM (≈ 0.2 s at start).
  const [{ PGlite }, { drizzle: drizzlePglite }, { PrivateNodeFS }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
    import("./pglite-private-fs.js"),
  ]);
  const client = await PGlite.create({
    // On disk: files and directories private to this user (0600/0700), see pglite-private-fs.ts.
    ...(onDisk ? { fs: new PrivateNodeFS(dataDir) } : dataDir !== undefined && { dataDir }),
    ...(loadDataDir !== undefined && { loadDataDir }),
  });
  const guard = stopAtFirstUnrecoverableError(client, options.onFailure ?? (() => {}));
  const db = drizzlePglite({ client: options.usage ? trackPgliteClient(client, options.usage) : client, schema });
  const handle: DatabaseHandle = {
    db,
    kind: "pglite",
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    // A failed runtime is never entered again, not even to close it: the write-ahead log is on
    // disk, and the next start recovers from it.
    close: async () => {
      if (!guard.failure()) await client.close();
    },
    dumpDataDir: () => client.dumpDataDir("gzip"),
    // PGlite is this process's own database (the data directory is locked to one process), so
    // the only notifications are the ones this process sends, and its one session never drops:
    // onListen runs once.
    listen: async (channel, onNotify, onListen) => {
      const unlisten = await client.listen(channel, onNotify);
      onListen();
      // Like close(): a failed runtime is never entered again.
      return async () => {
        if (!guard.failure()) await unlisten();
      };
    },
  };
  // PGlite is a single connection already: every query shares its session.
  dedicatedSessions.set(handle, async () => ({
    kind: "pglite",
    db,
    release: async () => {},
  }));
  return handle;
}
