/** The database layer: what `main.ts` opens and migrates, and what services are handed. */
export { openDatabase, type Db, type DatabaseHandle, type DatabaseOptions } from "./client.js";
export { migrateDatabase, MIGRATIONS_FOLDER } from "./migrate.js";
export { classifyDatabaseError, type DatabaseErrorKind } from "./errors.js";
export {
  createRegistryRepository,
  REGISTRY_NAME_UNIQUE,
  type RegistryRepository,
} from "./repositories/registries.js";
export {
  createSandboxImageRepository,
  SANDBOX_IMAGE_DEFAULT_UNIQUE,
  SANDBOX_IMAGE_REGISTRY_FK,
  type SandboxImageRepository,
} from "./repositories/sandbox-images.js";
export { createApiTokenRepository, type ApiTokenRepository } from "./repositories/api-tokens.js";
export type * from "./records.js";
