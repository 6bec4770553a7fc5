/**
 * The production modules the kit drives. The server package is an application and exports
 * nothing, and the kit needs the real things (the migrator, the schema, the composed app), not
 * doubles of them, so it reaches them by relative path: this file and server-app.ts are the only
 * doors into packages/server/src, which keeps what the kit depends on visible in one place. The
 * doors open one way only: nothing under packages/server/src imports the kit.
 *
 * Why two: this one holds the light parts (data layer, contract path, ids, tokens); server-app.ts
 * holds the composed app (Express, the OpenAPI validator, the cloud clients), which takes ~1.3 s
 * to import. A unit test that only needs a database or the contract then does not load the app,
 * which the mutation run (MUTATION.md) pays again for every mutant.
 */
export { OPENAPI_SPEC_PATH } from "../../server/src/contract-file.js";
export { generateApiToken, hashApiToken } from "../../server/src/auth/api-token.js";
export { openDatabase, openDedicatedSession, type Db, type DatabaseHandle } from "../../server/src/db/client.js";
export { providerOf, referenceOf } from "../../server/src/db/derived-columns.js";
export { MIGRATIONS_FOLDER, migrateDatabase } from "../../server/src/db/migrate.js";
export type { NewRegistry, NewSandboxImage, RegistryForUse, RegistryRecord, TokenScope } from "../../server/src/db/records.js";
export { registries, sandboxImages } from "../../server/src/db/schema.js";
export type { LookupAddress, LookupFn } from "../../server/src/registry-protocol/outbound/resolve.js";
export type { OutboundOptions } from "../../server/src/registry-protocol/outbound/types.js";
export { uuidv7 as productionUuidv7 } from "../../server/src/services/ids.js";

/** The server package's own directory and entry points, for tests that run it as a process. */
export const SERVER_PACKAGE_DIR = new URL("../../server/", import.meta.url);
