/**
 * `npm run tokens -- <command>`: manage API tokens from the command line (keys: keys-cli.ts).
 * Reads the same environment as the server (DATABASE_URL or the embedded data directory).
 */
import { parseArgs } from "node:util";
import { formatKeyringSpec, generateKey } from "@modbox/crypto";
import { openCliDatabase, runCommandLine } from "./cli-support.js";
import { loadConfig } from "./config.js";
import type { ApiTokenRecord, TokenScope } from "./db/records.js";
import { createApiTokenRepository } from "./db/repositories/api-tokens.js";
import { createApiTokenService } from "./services/api-tokens.js";
import { uuidv7 } from "./services/ids.js";

const HELP = `Usage: npm run tokens -- <command> [options]

Commands:
  create --name <name> (--workspace <id>... | --all-workspaces) [--scope workspace|provisioner]
                     Create a token and print it once. Only its SHA-256 is stored.
  list               List tokens (id, name, scope, workspaces, created, last used, revoked).
  revoke <token-id>  Revoke a token. Every running server stops accepting it within a second
                     (PostgreSQL notifies them; MODBOX_TOKEN_CACHE_SECONDS, 5 by default, if a
                     server's notification connection is down at that moment).
  generate-key       Print a new MODBOX_ENCRYPTION_KEYS entry (<id>:<base64 of 32 random bytes>).

The embedded database serves one process at a time: stop the server before using these
commands on it, or use PostgreSQL (DATABASE_URL).
`;

const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      workspace: { type: "string", multiple: true },
      "all-workspaces": { type: "boolean" },
      scope: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  if (command === "generate-key") {
    process.stdout.write(`${formatKeyringSpec([generateKey()])}\n`);
    return 0;
  }

  const config = loadConfig(process.env);
  const { database, close } = await openCliDatabase(config, "modbox tokens cli");
  try {
    const tokens = createApiTokenService({
      tokens: createApiTokenRepository(database.db),
      newId: () => uuidv7(),
      now: () => new Date(),
    });
    switch (command) {
      case "create": {
        const scope = (values.scope ?? "workspace") as TokenScope;
        if (!values.name) return usage("create needs --name");
        if (scope !== "workspace" && scope !== "provisioner") return usage("--scope must be workspace or provisioner");
        const workspaces = values.workspace ?? [];
        if (values["all-workspaces"] === (workspaces.length > 0)) {
          return usage("create needs either --workspace <id> (repeatable) or --all-workspaces");
        }
        const { token, record } = await tokens.create({
          name: values.name,
          scope,
          workspaceIds: values["all-workspaces"] ? null : workspaces,
          createdBy: "cli",
        });
        process.stderr.write(`Created token: ${describe(record)}\nIt is shown only this once:\n`);
        process.stdout.write(`${token}\n`);
        return 0;
      }
      case "list": {
        for (const t of await tokens.list()) process.stdout.write(`${describe(t)}\n`);
        return 0;
      }
      case "revoke": {
        const id = rest[0];
        if (!id) return usage("revoke needs a token id");
        // Not echoed: it may be the token itself, pasted by mistake.
        if (!TOKEN_ID.test(id)) return usage("revoke needs a token id (the UUID `list` shows), not the token");
        const outcome = await tokens.revoke(id);
        if (outcome !== "revoked") {
          process.stderr.write(`No active token with id ${id}\n`);
          return 1;
        }
        process.stderr.write(`Revoked ${id}\n`);
        return 0;
      }
      default:
        return usage(`unknown command ${command}`);
    }
  } finally {
    await close();
  }
}

function describe(t: ApiTokenRecord): string {
  return [
    t.id,
    t.name,
    `scope=${t.scope}`,
    `workspaces=${t.workspaceIds ? t.workspaceIds.join(",") : "*"}`,
    `created=${t.createdAt.toISOString()}`,
    `last_used=${t.lastUsedAt?.toISOString() ?? "never"}`,
    t.revokedAt ? `revoked=${t.revokedAt.toISOString()}` : "active",
  ].join("\t");
}

function usage(message: string): number {
  process.stderr.write(`${message}\n\n${HELP}`);
  return 2;
}

runCommandLine(main);
