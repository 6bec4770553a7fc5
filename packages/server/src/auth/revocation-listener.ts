import type { Logger } from "pino";
import type { DatabaseHandle } from "../db/client.js";
import { TOKEN_REVOCATIONS_CHANNEL } from "../db/repositories/api-tokens.js";
import type { Authenticator } from "./authenticator.js";

export interface RevocationListener {
  /** Stops listening. Safe to call twice; never throws (it runs at shutdown). */
  stop(): Promise<void>;
}

const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Makes a revocation reach this process's token cache as soon as it commits, whichever process
 * made it: the repository's `revoke` NOTIFYs the token id in the revoking statement, and this
 * LISTENs. Each time the listen is (re-)established, every cached token is checked again before
 * it is trusted, since notices sent while the connection was down are lost; in between, the
 * cache's TTL bounds how long a missed revocation can go unnoticed.
 *
 * Start it before the server takes requests, and stop it before the database is closed.
 */
export async function listenForRevocations(
  database: DatabaseHandle,
  authenticator: Pick<Authenticator, "forgetToken" | "forgetAll">,
  logger: Logger,
): Promise<RevocationListener> {
  let listens = 0;
  const unlisten = await database.listen(
    TOKEN_REVOCATIONS_CHANNEL,
    (payload) => {
      if (TOKEN_ID.test(payload)) {
        authenticator.forgetToken(payload.toLowerCase());
        logger.info({ tokenId: payload }, "token revoked: dropped from the cache");
      } else {
        // Not what revoke() sends (someone NOTIFYing by hand, or a newer version's format):
        // checking every token again is always safe.
        authenticator.forgetAll();
        logger.warn("unrecognised token revocation notice: every cached token will be checked again");
      }
    },
    () => {
      authenticator.forgetAll();
      if (++listens > 1) logger.warn("token revocation listener reconnected: every cached token will be checked again");
    },
  );
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= unlisten().catch((err: unknown) => {
        // The database may already be gone (shutdown after an outage); its close ends the
        // connection anyway.
        logger.debug({ err: err instanceof Error ? err.name : "error" }, "token revocation listener: unlisten failed");
      })),
  };
}
