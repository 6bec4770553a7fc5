import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { OPENAPI_SPEC_PATH } from "../contract-file.js";
import type { BodyBranch, TaggedBody } from "./body-branches.js";

/**
 * What validation messages need from the contract, read from openapi.yaml itself so the contract
 * stays the one source of its rules' words:
 * - each `pattern` in words: the `x-pattern-message` written next to it (a regex is no message);
 * - the names a request may use where an unknown one was sent, to suggest the one meant.
 */
export interface ContractWords {
  /** The words of a `pattern` of the contract; undefined for a pattern it does not have. */
  patternWords(pattern: string): string | undefined;
  /**
   * The property or parameter names known at `parent` (`/body`, `/body/<property>`, `/query`)
   * for the operation `method` `route` (`route` as the contract spells it, e.g.
   * `/registries/{registry_id}`; undefined when no route matched). Empty when the contract has
   * nothing there.
   */
  knownNames(method: string, route: string | undefined, parent: string): readonly string[];
  /**
   * The operation's body when it is `oneOf` object schemas told apart by a `const` property
   * (see body-branches.ts); undefined for any other body, and for no route.
   */
  taggedBody(method: string, route: string | undefined): TaggedBody | undefined;
}

type Node = Record<string, unknown>;

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && !Array.isArray(value);

/** The items of those of `values` that are lists, in one list (a value that is no list adds nothing). */
const itemsOfLists = (...values: unknown[]): unknown[] => values.filter(Array.isArray).flat();

/**
 * Reads the words from a parsed contract. Throws when a `pattern` has no `x-pattern-message`, or
 * one pattern has two different wordings: the server must not start with a rule it cannot explain.
 */
export function contractWordsOf(spec: Node): ContractWords {
  const words = collectPatternWords(spec);
  const operations = collectOperations(spec);
  return {
    patternWords: (pattern) => words.get(pattern),
    knownNames(method, route, parent) {
      const operation = operations.get(`${method.toLowerCase()} ${route}`) ?? (method.toUpperCase() === "HEAD" ? operations.get(`get ${route}`) : undefined);
      if (!operation) return [];
      const [, location, ...segments] = parent.split("/");
      if (location === "query" && segments.length === 0) return operation.query;
      if (location !== "body" || !operation.body) return [];
      const schema = schemaAt(spec, operation.body, segments);
      return schema ? propertyNames(spec, schema) : [];
    },
    taggedBody(method, route) {
      const body = operations.get(`${method.toLowerCase()} ${route}`)?.body;
      return body ? taggedBodyOf(spec, body) : undefined;
    },
  };
}

/** `oneOf` object schemas each with a `const` on one shared property: the tag and what each schema allows. */
function taggedBodyOf(spec: Node, body: Node): TaggedBody | undefined {
  if (!Array.isArray(body.oneOf) || body.oneOf.length === 0) return undefined;
  const schemas = body.oneOf.map((s) => resolve(spec, s));
  if (schemas.some((s) => !s || !isNode(s.properties))) return undefined;
  const first = schemas[0]!.properties as Node;
  const property = Object.keys(first).find((name) =>
    schemas.every((s) => typeof resolve(spec, (s!.properties as Node)[name])?.const === "string"),
  );
  if (property === undefined) return undefined;
  const branches = schemas.map((s): BodyBranch => {
    const required = Array.isArray(s!.required) ? s!.required.filter((r): r is string => typeof r === "string") : [];
    return {
      tag: resolve(spec, (s!.properties as Node)[property])!.const as string,
      tagRequired: required.includes(property),
      properties: propertyNames(spec, s!),
      required,
    };
  });
  return { property, branches };
}

function collectPatternWords(spec: Node): Map<string, string> {
  const words = new Map<string, string>();
  const visit = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((item, i) => visit(item, `${where}/${i}`));
    if (!isNode(node)) return;
    if (typeof node.pattern === "string") {
      const text = node["x-pattern-message"];
      if (typeof text !== "string" || text.trim() === "") {
        throw new Error(`openapi.yaml: the pattern at ${where} has no x-pattern-message (the words a refused value is told)`);
      }
      const known = words.get(node.pattern);
      if (known !== undefined && known !== text) {
        throw new Error(`openapi.yaml: the pattern ${JSON.stringify(node.pattern)} has two wordings: ${JSON.stringify(known)} and ${JSON.stringify(text)}`);
      }
      words.set(node.pattern, text);
    }
    for (const [key, value] of Object.entries(node)) {
      // Examples are data, not schemas: a field of an example may be called `pattern`.
      if (key !== "example" && key !== "examples") visit(value, `${where}/${key}`);
    }
  };
  visit(spec, "#");
  return words;
}

interface Operation {
  query: string[];
  body?: Node;
}

function collectOperations(spec: Node): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  const paths = isNode(spec.paths) ? spec.paths : {};
  for (const [route, item] of Object.entries(paths)) {
    if (!isNode(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isNode(operation)) continue;
      // The route's parameters, then the operation's own.
      const parameters = itemsOfLists(item.parameters, operation.parameters).map((p) => resolve(spec, p));
      const query = parameters.filter((p) => p?.in === "query" && typeof p.name === "string").map((p) => p!.name as string);
      const requestBody = resolve(spec, operation.requestBody);
      const content = isNode(requestBody?.content) ? requestBody.content : {};
      const body = resolve(spec, isNode(content["application/json"]) ? content["application/json"].schema : undefined);
      operations.set(`${method} ${route}`, { query: [...new Set(query)], ...(body && { body }) });
    }
  }
  return operations;
}

/**
 * Follows a local `$ref` (`#/components/...`); undefined for anything that is not an object, and
 * for a `$ref` into another document.
 */
function resolve(spec: Node, node: unknown, depth = 0): Node | undefined {
  if (!isNode(node)) return undefined;
  if (typeof node.$ref !== "string" || depth > 32) return node;
  const [document, ...pointer] = node.$ref.split("/");
  let target: unknown = document === "#" ? spec : undefined;
  for (const part of pointer) {
    target = isNode(target) ? target[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  }
  return resolve(spec, target, depth + 1);
}

/**
 * The schema and the schemas it is made of by `allOf`, each resolved; and those of a `oneOf`
 * (the names any of its forms knows: body-branches.ts narrows to the form a body picks).
 */
function parts(spec: Node, schema: Node, depth = 0): Node[] {
  if (depth > 32) return [schema];
  const nested = itemsOfLists(schema.allOf, schema.oneOf).map((s) => resolve(spec, s)).filter(isNode);
  return [schema, ...nested.flatMap((s) => parts(spec, s, depth + 1))];
}

function propertyNames(spec: Node, schema: Node): string[] {
  const names = parts(spec, schema).flatMap((part) => (isNode(part.properties) ? Object.keys(part.properties) : []));
  return [...new Set(names)];
}

/** The schema of the value at `segments` under `schema` (properties of objects, items of arrays). */
function schemaAt(spec: Node, schema: Node, segments: string[]): Node | undefined {
  let current: Node | undefined = schema;
  for (const raw of segments) {
    if (!current) return undefined;
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    let next: Node | undefined;
    for (const part of parts(spec, current)) {
      const property = isNode(part.properties) ? part.properties[segment] : undefined;
      next = resolve(spec, property) ?? (/^\d+$/.test(segment) ? resolve(spec, part.items) : undefined);
      if (next) break;
    }
    current = next;
  }
  return current;
}

/** The contract's words, read once when the server starts. */
export const contractWords: ContractWords = contractWordsOf(load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as Node);
