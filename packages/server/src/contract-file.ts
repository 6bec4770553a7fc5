import { fileURLToPath } from "node:url";

/**
 * Where the contract is: the repository's `openapi.yaml`. The validator checks every request
 * against it, the error handler takes its rules' words from it, and the server publishes it.
 */
export const OPENAPI_SPEC_PATH = fileURLToPath(new URL("../../../openapi.yaml", import.meta.url));
