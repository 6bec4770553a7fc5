import type { Cipher } from "@modbox/crypto";
import type { Logger } from "pino";
import type { AppDeps } from "./app.js";
import { createAuthenticator } from "./auth/authenticator.js";
import type { DatabaseHandle } from "./db/client.js";
import { createApiTokenRepository } from "./db/repositories/api-tokens.js";
import { createRegistryRepository } from "./db/repositories/registries.js";
import { createSandboxImageRepository } from "./db/repositories/sandbox-images.js";
import { uuidv7 } from "./services/ids.js";
import { createRegistryService } from "./services/registries.js";
import { createSandboxImageService } from "./services/sandbox-images.js";

export interface ComposeOptions {
  database: DatabaseHandle;
  cipher: Cipher;
  logger: Logger;
  bootstrapToken?: string;
  validateResponses: boolean;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  isShuttingDown?: () => boolean;
}

/** Wires repositories → services → app dependencies. The one place the object graph is built. */
export function composeApp(options: ComposeOptions): AppDeps {
  const { db } = options.database;
  const registryRepository = createRegistryRepository(db);
  const now = () => new Date();
  const newId = () => uuidv7();
  return {
    logger: options.logger,
    authenticate: createAuthenticator({
      tokens: createApiTokenRepository(db),
      ...(options.bootstrapToken !== undefined && { bootstrapToken: options.bootstrapToken }),
    }),
    registries: createRegistryService({ registries: registryRepository, cipher: options.cipher, newId, now }),
    sandboxImages: createSandboxImageService({
      images: createSandboxImageRepository(db),
      registries: registryRepository,
      newId,
      now,
    }),
    readiness: {
      ping: () => options.database.ping(),
      isShuttingDown: options.isShuttingDown ?? (() => false),
    },
    options: {
      validateResponses: options.validateResponses,
      bodyLimitBytes: options.bodyLimitBytes,
      rateLimitPerMinute: options.rateLimitPerMinute,
    },
  };
}
