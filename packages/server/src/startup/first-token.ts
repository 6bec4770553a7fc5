import type { Config } from "../config.js";
import type { createApiTokenService } from "../services/api-tokens.js";

/**
 * The embedded default must be usable right after `npm start`: when no token exists at all and
 * none is configured, create an admin token (every workspace, and `/tokens` to make the others)
 * and show it once, on the terminal (stderr), not in the structured log.
 */
export async function ensureFirstToken(
  config: Config,
  tokens: ReturnType<typeof createApiTokenService>,
  write: (text: string) => void = (text) => process.stderr.write(text),
): Promise<void> {
  if (config.database.kind !== "pglite" || config.bootstrapToken) return;
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
