/**
 * The production modules the kit drives. The server package is an application and exports
 * nothing, and the kit needs the real things (the migrator, the schema, the composed app), not
 * doubles of them, so it reaches them by relative path: this file is the only door into
 * packages/server/src, which keeps what the kit depends on visible in one place. The door opens
 * one way only: nothing under packages/server/src imports the kit.
 */
export { createApp, OPENAPI_SPEC_PATH } from "../../server/src/app.js";
export { generateApiToken, hashApiToken } from "../../server/src/auth/api-token.js";
export { composeApp } from "../../server/src/compose.js";
export { openDatabase, openDedicatedSession, type Db, type DatabaseHandle } from "../../server/src/db/client.js";
export { providerOf, referenceOf } from "../../server/src/db/derived-columns.js";
export { MIGRATIONS_FOLDER, migrateDatabase } from "../../server/src/db/migrate.js";
export type { NewRegistry, NewSandboxImage, TokenScope } from "../../server/src/db/records.js";
export { createApiTokenRepository } from "../../server/src/db/repositories/api-tokens.js";
export { registries, sandboxImages } from "../../server/src/db/schema.js";
export { createLogger, LOG_LEVELS, type LogLevel } from "../../server/src/logging.js";
export { createMetrics, type Metrics } from "../../server/src/metrics/registry.js";
export type { LookupAddress, LookupFn } from "../../server/src/registry-protocol/outbound/resolve.js";
export type { OutboundOptions } from "../../server/src/registry-protocol/outbound/types.js";
export { createApiTokenService } from "../../server/src/services/api-tokens.js";
export { uuidv7 as productionUuidv7 } from "../../server/src/services/ids.js";
export { openKeys } from "../../server/src/startup/open-keys.js";

/** The server package's own directory and entry points, for tests that run it as a process. */
export const SERVER_PACKAGE_DIR = new URL("../../server/", import.meta.url);
