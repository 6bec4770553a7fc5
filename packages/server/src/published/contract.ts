/**
 * The contract as this server publishes it: `openapi.yaml` byte for byte, and the same document
 * as JSON. Read once, at start: the file is part of the code, and answering it must cost no I/O.
 */
import { readFileSync } from "node:fs";
import { JSON_SCHEMA, load } from "js-yaml";

export interface PublishedContract {
  /** The file as it is on disk. */
  readonly yaml: Buffer;
  /** The parsed document, serialised: the same keys in the same order. */
  readonly json: string;
  /** `info.title` and `info.version`, for the index and the reference page. */
  readonly title: string;
  readonly version: string;
}

export function readPublishedContract(path: string): PublishedContract {
  const yaml = readFileSync(path);
  // JSON_SCHEMA, as express-openapi-validator's parser (json-schema-ref-parser, js-yaml too)
  // reads it: plain scalars stay strings, so an unquoted date is not turned into a Date and
  // back into another string. The JSON is the contract the validator enforces.
  const document = load(yaml.toString("utf8"), { schema: JSON_SCHEMA, filename: path }) as {
    info?: { title?: unknown; version?: unknown };
  };
  const { title, version } = document.info ?? {};
  if (typeof title !== "string" || typeof version !== "string") {
    throw new Error(`${path} has no info.title or info.version: is it the OpenAPI contract?`);
  }
  return { yaml, json: JSON.stringify(document), title, version };
}
