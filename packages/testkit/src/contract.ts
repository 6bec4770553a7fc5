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

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** One operation of the contract, as the tests that walk every operation need it. */
export interface ContractOperation {
  /** Upper case, e.g. `GET`. */
  method: string;
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  /** `security: []`: answered without a token. */
  public: boolean;
  /** Takes `X-Workspace-Id` (the workspace routes); false for the public ones and `/tokens`. */
  workspaceScoped: boolean;
  /** The media types of its `200` answer (none for a 201- or 204-only operation). */
  okMediaTypes: string[];
}

/** Every operation of the contract, in the file's order. */
export function contractOperations(): ContractOperation[] {
  const spec = load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as {
    paths?: Record<string, Record<string, Record<string, unknown>>>;
    components?: { parameters?: Record<string, { name?: string; in?: string }> };
  };
  type Parameter = { $ref?: string; name?: string; in?: string };
  const isWorkspaceHeader = (p: Parameter) => {
    const resolved = p.$ref ? spec.components?.parameters?.[p.$ref.split("/").pop()!] : p;
    return resolved?.in === "header" && resolved.name?.toLowerCase() === "x-workspace-id";
  };
  const operations: ContractOperation[] = [];
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    const pathParameters = (item.parameters ?? []) as unknown as Parameter[];
    for (const method of HTTP_METHODS) {
      const op = item[method] as
        | { operationId?: string; summary?: string; tags?: string[]; security?: unknown[]; parameters?: Parameter[]; responses?: Record<string, { content?: Record<string, unknown> }> }
        | undefined;
      if (!op) continue;
      if (!op.operationId || !op.summary) throw new Error(`openapi.yaml: ${method.toUpperCase()} ${path} has no operationId or summary`);
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        summary: op.summary,
        tags: op.tags ?? [],
        public: Array.isArray(op.security) && op.security.length === 0,
        workspaceScoped: [...pathParameters, ...(op.parameters ?? [])].some(isWorkspaceHeader),
        okMediaTypes: Object.keys(op.responses?.["200"]?.content ?? {}),
      });
    }
  }
  return operations;
}

/** The contract's top-level tags, in order. */
export function contractTags(): string[] {
  const spec = load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as { tags?: Array<{ name: string }> };
  return (spec.tags ?? []).map((tag) => tag.name);
}
