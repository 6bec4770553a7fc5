/**
 * `npm run tokens -- <command>`: manage API tokens from the command line (keys: keys-cli.ts).
 * The commands are in tokens-command.ts; this is the process around them.
 */
import { runCommandLine } from "./cli-support.js";
import { runTokensCommand } from "./tokens-command.js";

runCommandLine((argv) =>
  runTokensCommand(argv, {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }),
);
