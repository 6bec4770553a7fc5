import { fileURLToPath } from "node:url";

/**
 * Where the contract is. The validator checks every request against it, the error handler takes
 * its rules' words from it, and the server publishes it.
 *
 * Run from its sources (tsx, vitest), this module is src/contract-file.ts and the contract is the
 * repository's `openapi.yaml`, the one source. Built, it is dist/contract-file.js and the contract
 * is dist/openapi.yaml, the copy `pnpm build` puts there (scripts/build.mjs), so a deployed server
 * carries its own contract: the repository is not there.
 */
const built = new URL(import.meta.url).pathname.endsWith(".js");
export const OPENAPI_SPEC_PATH = fileURLToPath(new URL(built ? "./openapi.yaml" : "../../../openapi.yaml", import.meta.url));
