import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { createApiTokenService } from "../services/api-tokens.js";

/**
 * What a PostgreSQL server says at start while no token can use its API. One line of the log
 * (the log is what a container or a supervisor keeps), no token in it.
 */
export const NO_TOKEN_ON_POSTGRES =
  "No API token is active in this database and MODBOX_BOOTSTRAP_TOKEN is not set, so every API request is refused (401) until there is one. " +
  "Create an admin token with `npm run tokens -- create --name <name> --scope admin --all-workspaces`, run with the same DATABASE_URL as this server " +
  "(it prints the token once; this server accepts it without a restart), or set MODBOX_BOOTSTRAP_TOKEN to an mbx_ token of your own and restart.";

/**
 * A first start must say how to reach the API.
 *
 * Embedded default (`npm start`): when no token exists at all and none is configured, create an
 * admin token (every workspace, and `/tokens` to make the others) and show it once, on the
 * terminal (stderr), not in the structured log.
 *
 * PostgreSQL: nothing is created (several instances start at once, and a token printed into a
 * container's log would sit there in clear); while no token is active and none is configured, a
 * warning in the log says how to make one.
 */
export async function ensureFirstToken(
  config: Config,
  tokens: ReturnType<typeof createApiTokenService>,
  logger: Pick<Logger, "warn">,
  write: (text: string) => void = (text) => process.stderr.write(text),
): Promise<void> {
  if (config.bootstrapToken) return;
  if (config.database.kind === "postgres") {
    const active = (await tokens.list()).filter((t) => t.revokedAt === null);
    if (active.length === 0) logger.warn(NO_TOKEN_ON_POSTGRES);
    return;
  }
  if ((await tokens.list()).length > 0) return;
  const { token } = await tokens.create({ name: "first token", scope: "admin", workspaceIds: null, createdBy: "first-start" });
  write(
    [
      "",
      "  No API token existed, so an admin token was created: it works in every workspace and",
      "  makes the other tokens (POST /tokens). It is shown only this once:",
      "",
      `    ${token}`,
      "",
      "  Use it as `Authorization: Bearer <token>`. Tokens are also managed with `npm run tokens -- --help`.",
      "",
      "",
    ].join("\n"),
  );
}
