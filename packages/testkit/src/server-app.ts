/**
 * The composed app and what composes it: the heavy door into packages/server/src (see server.ts
 * for the light one, and why there are two).
 */
export { createApp } from "../../server/src/app.js";
export { composeApp } from "../../server/src/compose.js";
export { createApiTokenRepository } from "../../server/src/db/repositories/api-tokens.js";
export { createLogger, LOG_LEVELS, type LogLevel } from "../../server/src/logging.js";
export { createMetrics, type Metrics } from "../../server/src/metrics/registry.js";
export { createApiTokenService } from "../../server/src/services/api-tokens.js";
export { openKeys } from "../../server/src/startup/open-keys.js";
