/**
 * The real app over real HTTP on 127.0.0.1, on PGlite or on a fresh PostgreSQL 15 database,
 * with response validation on so any drift from openapi.yaml fails loudly. Logs are captured
 * line by line so tests can scan them (the canary leak scan does).
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { formatKeyringSpec, generateKey, parseKeyringSpec, type Keyring } from "@modbox/crypto";
import { createClient, type ModboxClient } from "@modbox/sdk";
import { postgresAdminUrl as defaultPostgresAdminUrl, type Backend } from "./databases.js";
import { migratedPgliteDump, migratedPostgresTemplate } from "./migrated-databases.js";
import { createPostgresTestDatabase } from "./postgres.js";
import {
  composeApp,
  createApiTokenRepository,
  createApiTokenService,
  createApp,
  createLogger,
  type LogLevel,
  type Metrics,
  openKeys,
} from "./server-app.js";
import {
  generateApiToken,
  MIGRATIONS_FOLDER,
  migrateDatabase,
  openDatabase,
  productionUuidv7,
  type DatabaseHandle,
  type OutboundOptions,
  type TokenScope,
} from "./server.js";

export interface TestApp {
  backend: Backend;
  url: string;
  database: DatabaseHandle;
  /** A bootstrap token (MODBOX_BOOTSTRAP_TOKEN): admin scope, every workspace. */
  token: string;
  /** Every log line the app wrote, as raw text. */
  logs: string[];
  /** An SDK client on this app for one workspace (no retries, so tests see every answer). */
  client(workspaceId: string, token?: string): ModboxClient;
  /** Creates a real API token through the token service. */
  createToken(options: { workspaceIds: string[] | null; scope?: TokenScope }): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  rateLimitPerMinute?: number;
  bodyLimitBytes?: number;
  /** Another PostgreSQL server than the global one (e.g. one a test stops and starts). */
  postgresAdminUrl?: string;
  /**
   * How the app may reach registries. Default: private addresses allowed, since the test
   * registries listen on 127.0.0.1 (the SSRF tests turn it off).
   */
  outbound?: OutboundOptions;
  /** The app's keys (default: one fresh key), e.g. to start a second app on the same database. */
  keyring?: Keyring;
  /**
   * The log level (default `debug`). Which request logger runs depends on it (pino-http at
   * `info` and below, the failure-only logger above), so the leak scan runs at each.
   */
  logLevel?: LogLevel;
  /** Metrics on (`createMetrics`): the app times requests and counts, and the database its pool's use. */
  metrics?: Metrics;
  /** Cloud registries' exchanges: the fakes' endpoints, the server's AWS identity, the cache's clock. */
  cloud?: Parameters<typeof composeApp>[0]["cloud"];
}

export async function startTestApp(backend: Backend, options: TestAppOptions = {}): Promise<TestApp> {
  const { database, dispose } = await openTestDatabase(backend, options.postgresAdminUrl, options.metrics);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const logger = createLogger(options.logLevel ?? "debug", sink);
  const keyring = options.keyring ?? parseKeyringSpec(formatKeyringSpec([generateKey()]));
  const { cipher, budget } = await openKeys(database.db, keyring, logger, "the test keyring");
  const token = generateApiToken();
  const app = createApp(
    composeApp({
      database,
      cipher,
      budget,
      logger,
      bootstrapToken: token,
      validateResponses: true,
      bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 0,
      outbound: options.outbound ?? { allowPrivate: true, timeoutMs: 5000 },
      ...(options.metrics && { metrics: options.metrics }),
      ...(options.cloud && { cloud: options.cloud }),
    }),
  );
  const server: Server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokens = createApiTokenService({
    tokens: createApiTokenRepository(database.db),
    newId: () => productionUuidv7(),
    now: () => new Date(),
  });

  return {
    backend,
    url,
    database,
    token,
    logs,
    client: (workspaceId, clientToken = token) =>
      createClient({ baseUrl: url, token: clientToken, workspaceId, maxRetries: 0 }),
    createToken: async ({ workspaceIds, scope = "workspace" }) =>
      (await tokens.create({ name: "test", scope, workspaceIds })).token,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
      await dispose();
    },
  };
}

async function openTestDatabase(
  backend: Backend,
  postgresAdminUrl?: string,
  metrics?: Metrics,
): Promise<{ database: DatabaseHandle; dispose: () => Promise<void> }> {
  if (backend === "postgres") {
    const adminUrl = postgresAdminUrl ?? defaultPostgresAdminUrl;
    if (!adminUrl) throw new Error("PostgreSQL backend requested but there is none: set DATABASE_URL");
    const created = await createPostgresTestDatabase(adminUrl, { template: await migratedPostgresTemplate(adminUrl) });
    const database = await openDatabase({
      kind: "postgres",
      url: created.url,
      maxConnections: 5,
      connectTimeoutSeconds: 2,
      ...(metrics && { usage: metrics.pool }),
    });
    await migrateDatabase(database);
    return { database, dispose: () => created.drop() };
  }
  const database = await openDatabase({
    kind: "pglite",
    loadDataDir: await migratedPgliteDump(),
    ...(metrics && { usage: metrics.pool }),
  });
  return { database, dispose: async () => {} };
}
