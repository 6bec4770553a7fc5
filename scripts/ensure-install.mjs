#!/usr/bin/env node
// Lets `npm start` / `npm test` work on a fresh clone with only Node and npm:
// installs the pinned pnpm's dependencies when node_modules is missing or older than the lockfile.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const marker = `${root}node_modules/.modules.yaml`;
const lockfile = `${root}pnpm-lock.yaml`;

const fresh = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs;
if (!fresh) {
  const pnpm = hasPnpm() ? "pnpm" : "npx --yes pnpm@12.4.2";
  console.error(`[setup] installing dependencies with ${pnpm} (first run only)`);
  execSync(`${pnpm} install --frozen-lockfile`, { cwd: root, stdio: "inherit" });
}

function hasPnpm() {
  try {
    const version = execSync("pnpm --version", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return version.trim() === "12.4.2";
  } catch {
    return false;
  }
}
