/**
 * `npm run tokens -- <command>` (cli.ts runs it): API tokens from the command line, for
 * bootstrapping (the first admin token) and for an operator at the database; everything else
 * is `/tokens` over the API with an admin token.
 *
 * Arguments are checked before anything is opened: a mistyped command touches no storage. Only
 * the database settings are read (tokens are hashed, not encrypted: no encryption key is needed),
 * the database used is named on stderr, and an embedded database that does not exist is refused,
 * not created.
 */
import { parseArgs } from "node:util";
import { formatKeyringSpec, generateKey } from "@modbox/crypto";
import { describeDatabase, openCliDatabase, requireExistingDatabase } from "./cli-support.js";
import { loadDatabaseLocation } from "./config.js";
import { TOKEN_SCOPES } from "./db/schema.js";
import type { ApiTokenRecord, TokenScope } from "./db/records.js";
import { createApiTokenRepository } from "./db/repositories/api-tokens.js";
import { createApiTokenService } from "./services/api-tokens.js";
import { uuidv7 } from "./services/ids.js";
import { normaliseName } from "./services/names.js";

export const TOKENS_HELP = `Usage: npm run tokens -- <command> [options]

Commands:
  create --name <name> (--workspace <id>... | --all-workspaces) [--scope workspace|provisioner|admin]
                     Create a token and print it once. Only its SHA-256 is stored. An admin
                     token (the /tokens routes, and every workspace) takes --all-workspaces.
  list               List tokens (id, name, scope, workspaces, created, last used, revoked).
  revoke <token-id>  Revoke a token. Every running server stops accepting it within a second
                     (PostgreSQL notifies them; MODBOX_TOKEN_CACHE_SECONDS, 5 by default, if a
                     server's notification connection is down at that moment).
  generate-key       Print a new MODBOX_ENCRYPTION_KEYS entry (<id>:<base64 of 32 random bytes>).

With a running server and an admin token, the API does the same: POST, GET and DELETE /tokens.
These commands use DATABASE_URL (PostgreSQL) or else the embedded database in MODBOX_DATA_DIR
(default ./.modbox), which must exist: the server creates it at its first start. The embedded
database serves one process at a time: stop the server before using these commands on it.
No encryption key is needed.
`;

const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `WorkspaceId` of openapi.yaml: a token granted anything else could never be used with it. */
const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const WORKSPACE_ID_MAX_LENGTH = 64;

/** Where a command writes, and the environment it reads (process.* in cli.ts; tests capture). */
export interface CommandIo {
  env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A command whose arguments were checked: what it will do, nothing opened yet. */
type Plan =
  | { kind: "help"; exitCode: number }
  | { kind: "generate-key" }
  | { kind: "create"; name: string; scope: TokenScope; workspaceIds: string[] | null }
  | { kind: "list" }
  | { kind: "revoke"; id: string }
  | { kind: "usage"; message: string };

/** Runs one command; resolves its exit code (2: bad arguments). Storage errors are thrown. */
export async function runTokensCommand(argv: string[], io: CommandIo): Promise<number> {
  const plan = planOf(argv);
  switch (plan.kind) {
    case "usage":
      io.stderr(`${plan.message}\n\n${TOKENS_HELP}`);
      return 2;
    case "help":
      io.stdout(TOKENS_HELP);
      return plan.exitCode;
    case "generate-key":
      io.stdout(`${formatKeyringSpec([generateKey()])}\n`);
      return 0;
  }

  const location = loadDatabaseLocation(io.env);
  io.stderr(`Database: ${describeDatabase(location)}\n`);
  requireExistingDatabase(location);
  const { database, close } = await openCliDatabase(location, "modbox tokens cli");
  try {
    const tokens = createApiTokenService({
      tokens: createApiTokenRepository(database.db),
      newId: () => uuidv7(),
      now: () => new Date(),
    });
    switch (plan.kind) {
      case "create": {
        const { token, record } = await tokens.create({
          name: plan.name,
          scope: plan.scope,
          workspaceIds: plan.workspaceIds,
          createdBy: "cli",
        });
        io.stderr(`Created token: ${describe(record)}\nIt is shown only this once:\n`);
        io.stdout(`${token}\n`);
        return 0;
      }
      case "list": {
        for (const t of await tokens.list()) io.stdout(`${describe(t)}\n`);
        return 0;
      }
      case "revoke": {
        const outcome = await tokens.revoke(plan.id);
        if (outcome === "not_found") {
          io.stderr(`No token with id ${plan.id}\n`);
          return 1;
        }
        io.stderr(outcome === "revoked" ? `Revoked ${plan.id}\n` : `Token ${plan.id} was already revoked\n`);
        return 0;
      }
    }
  } finally {
    await close();
  }
}

/** Every argument checked, nothing opened. */
function planOf(argv: string[]): Plan {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: "string" },
        workspace: { type: "string", multiple: true },
        "all-workspaces": { type: "boolean" },
        scope: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    // parseArgs names the option (never a value) in its message.
    return { kind: "usage", message: err instanceof Error ? err.message : "invalid arguments" };
  }
  const { positionals, values } = parsed;
  const [command, ...rest] = positionals;
  if (values.help) return { kind: "help", exitCode: 0 };
  if (!command) return { kind: "help", exitCode: 2 };

  const createOnly = (["name", "workspace", "all-workspaces", "scope"] as const).filter((option) => values[option] !== undefined);
  if (command !== "create" && createOnly.length > 0) {
    return { kind: "usage", message: `--${createOnly[0]} is an option of create only` };
  }
  switch (command) {
    case "generate-key":
    case "list":
      if (rest.length > 0) return { kind: "usage", message: `${command} takes no arguments` };
      return { kind: command };
    case "revoke": {
      if (rest.length !== 1) return { kind: "usage", message: "revoke needs one token id (the UUID `list` shows)" };
      // Not echoed: it may be the token itself, pasted by mistake.
      if (!TOKEN_ID.test(rest[0]!)) return { kind: "usage", message: "revoke needs a token id (the UUID `list` shows): this is not one" };
      return { kind: "revoke", id: rest[0]!.toLowerCase() };
    }
    case "create":
      return planCreate(rest, values);
    default:
      return { kind: "usage", message: `unknown command ${command}` };
  }
}

function planCreate(
  rest: string[],
  values: { name?: string | undefined; workspace?: string[] | undefined; "all-workspaces"?: boolean | undefined; scope?: string | undefined },
): Plan {
  if (rest.length > 0) return { kind: "usage", message: "create takes options only (--name, --workspace or --all-workspaces, --scope)" };
  if (values.name === undefined) return { kind: "usage", message: "create needs --name" };
  const name = normaliseName(values.name);
  if (!name.ok) return { kind: "usage", message: `--name ${name.reason}` };
  const scope = values.scope ?? "workspace";
  if (!(TOKEN_SCOPES as readonly string[]).includes(scope)) {
    return { kind: "usage", message: `--scope must be ${TOKEN_SCOPES.join(", ").replace(/, (\w+)$/, " or $1")}` };
  }
  const workspaces = values.workspace ?? [];
  const all = values["all-workspaces"] === true;
  if (all && workspaces.length > 0) return { kind: "usage", message: "create takes --workspace or --all-workspaces, not both" };
  if (!all && workspaces.length === 0) {
    return { kind: "usage", message: "create needs --workspace <id> (repeatable) or --all-workspaces" };
  }
  if (scope === "admin" && !all) {
    return { kind: "usage", message: "an admin token is granted every workspace: use --all-workspaces" };
  }
  const bad = workspaces.find((id) => !WORKSPACE_ID.test(id) || id.length > WORKSPACE_ID_MAX_LENGTH);
  if (bad !== undefined) {
    return {
      kind: "usage",
      message: `--workspace ${JSON.stringify(bad.slice(0, 80))} is not a workspace id: 1 to ${WORKSPACE_ID_MAX_LENGTH} letters, digits, ".", "_" and "-", starting with a letter or digit`,
    };
  }
  return { kind: "create", name: name.name, scope: scope as TokenScope, workspaceIds: all ? null : workspaces };
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
