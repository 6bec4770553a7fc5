/**
 * Enums and paths of openapi.yaml read from the file itself, for tests that hold a server table or
 * list to the contract. The server's types are generated from the same enums, so a table keyed by one
 * cannot miss a code at compile time; reading the file proves it against the contract as written
 * (a table may still hold a code the contract dropped, or the types may be stale).
 */
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { OPENAPI_SPEC_PATH } from "./server.js";

interface SchemaObject {
  enum?: unknown[];
  properties?: Record<string, SchemaObject>;
}

/** `components.schemas.<schema>.properties.<property>.enum`; a YAML `null` item stays `null`. */
export function contractEnum(schema: string, property: string): (string | null)[] {
  const spec = load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as {
    components?: { schemas?: Record<string, SchemaObject> };
  };
  const values = spec.components?.schemas?.[schema]?.properties?.[property]?.enum;
  if (!Array.isArray(values)) throw new Error(`openapi.yaml has no enum at ${schema}.${property}`);
  return values.map((value) => {
    if (value !== null && typeof value !== "string") throw new Error(`${schema}.${property} has a non-string enum value`);
    return value;
  });
}

/** Every path of the contract that has an operation for `method` (lower case, as in the file). */
export function contractPathsWith(method: string): string[] {
  const spec = load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as { paths?: Record<string, Record<string, unknown>> };
  return Object.entries(spec.paths ?? {})
    .filter(([, operations]) => method in operations)
    .map(([path]) => path);
}

/** `components.schemas.<schema>` as written, e.g. to hold a server constant to its `maxLength`. */
export function contractSchema(schema: string): Record<string, unknown> {
  const spec = load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as { components?: { schemas?: Record<string, Record<string, unknown>> } };
  const found = spec.components?.schemas?.[schema];
  if (!found) throw new Error(`openapi.yaml has no schema ${schema}`);
  return found;
}
