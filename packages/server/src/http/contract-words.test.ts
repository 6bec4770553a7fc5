import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { OPENAPI_SPEC_PATH } from "../contract-file.js";
import { contractWords, contractWordsOf } from "./contract-words.js";
import { WORDED_KEYWORDS } from "./validation-messages.js";

const spec = load(readFileSync(OPENAPI_SPEC_PATH, "utf8")) as Record<string, unknown>;

/** Every `pattern` string of the contract (examples aside), and the keywords its schemas use. */
function walk(node: unknown, found: { patterns: string[]; keywords: Set<string> }, inSchema = false): void {
  if (Array.isArray(node)) return node.forEach((item) => walk(item, found, inSchema));
  if (typeof node !== "object" || node === null) return;
  const record = node as Record<string, unknown>;
  if (typeof record.pattern === "string") found.patterns.push(record.pattern);
  for (const [key, value] of Object.entries(record)) {
    if (key === "example" || key === "examples") continue;
    if (inSchema && key !== "properties") found.keywords.add(key);
    // Below `schema`/`schemas` every object is a schema or a map of them (`properties`).
    const schemaBelow = inSchema || key === "schema" || key === "schemas";
    // `dependentRequired` maps a property's name to the names it needs: data, not schemas.
    if (key === "dependentRequired" && inSchema) continue;
    if (key === "properties" && inSchema) {
      for (const property of Object.values(value as Record<string, unknown>)) walk(property, found, true);
    } else if (key === "schemas") {
      for (const schema of Object.values(value as Record<string, unknown>)) walk(schema, found, true);
    } else {
      walk(value, found, schemaBelow);
    }
  }
}

describe("the contract's words", () => {
  const found = { patterns: [] as string[], keywords: new Set<string>() };
  walk(spec, found);

  it("have words for every pattern of the contract, and no words that are a regex", () => {
    expect(found.patterns.length).toBeGreaterThanOrEqual(5);
    for (const pattern of found.patterns) {
      const words = contractWords.patternWords(pattern);
      expect(words, pattern).toMatch(/^must /);
      expect(words, pattern).not.toContain(pattern);
      expect(words, pattern).not.toMatch(/[\\^$]/);
    }
  });

  it("put every validation keyword the contract's schemas use in words", () => {
    const annotations = new Set(["type", "description", "default", "format", "writeOnly", "readOnly", "title", "deprecated", "$ref", "items", "allOf", "oneOf", "anyOf", "additionalProperties"]);
    const unworded = [...found.keywords].filter((k) => !k.startsWith("x-") && !annotations.has(k) && !WORDED_KEYWORDS.has(k));
    expect(unworded).toEqual([]);
    // And the ones that are rules, not structure, are worded too.
    for (const keyword of ["type", "format", "additionalProperties", "oneOf", "anyOf"]) expect(WORDED_KEYWORDS.has(keyword), keyword).toBe(true);
  });

  it("refuses a contract with a pattern and no words, or one pattern worded twice", () => {
    const schemas = (a: Record<string, unknown>, b: Record<string, unknown> = {}) => ({ components: { schemas: { A: a, B: b } } });
    expect(() => contractWordsOf(schemas({ type: "string", pattern: "^a$" }))).toThrow(/no x-pattern-message/);
    expect(() =>
      contractWordsOf(schemas({ pattern: "^a$", "x-pattern-message": "must be a" }, { pattern: "^a$", "x-pattern-message": "must be the letter a" })),
    ).toThrow(/two wordings/);
    expect(contractWordsOf(schemas({ pattern: "^a$", "x-pattern-message": "must be a" }, { example: { pattern: "data" } })).patternWords("^a$")).toBe("must be a");
  });

  it("know the names of each operation's body and query", () => {
    // Every form of the create body (one per auth_type), basic's first.
    expect(contractWords.knownNames("POST", "/registries", "/body")).toEqual([
      "auth_type", "name", "server", "username", "password", "email", "enabled", "ca_certificate",
      "aws_access_key_id", "aws_secret_access_key", "aws_role_arn", "gcp_service_account_key",
      "azure_tenant_id", "azure_client_id", "azure_client_secret",
    ]);
    expect(contractWords.knownNames("PUT", "/sandbox-images/{image_id}", "/body")).toContain("is_default");
    expect(contractWords.knownNames("GET", "/registries", "/query")).toEqual(expect.arrayContaining(["limit", "cursor", "enabled", "server"]));
    expect(contractWords.knownNames("HEAD", "/registries", "/query")).toEqual(contractWords.knownNames("GET", "/registries", "/query"));
    expect(contractWords.knownNames("POST", "/registries", "/query")).toEqual(["verify"]);
    expect(contractWords.knownNames("GET", "/no-such-route", "/query")).toEqual([]);
    expect(contractWords.knownNames("POST", "/registries", "/body/name")).toEqual([]);
    expect(contractWords.knownNames("POST", "/registries", "/headers")).toEqual([]);
  });

  it("follow $ref, allOf and nesting to the object at a path", () => {
    const words = contractWordsOf({
      paths: {
        "/things": {
          parameters: [{ $ref: "#/components/parameters/Page" }],
          post: {
            requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } } },
          },
        },
      },
      components: {
        parameters: { Page: { name: "page", in: "query", schema: { type: "integer" } } },
        schemas: {
          Thing: { allOf: [{ $ref: "#/components/schemas/Base" }, { properties: { inner: { $ref: "#/components/schemas/Inner" }, list: { items: { $ref: "#/components/schemas/Inner" } } } }] },
          Base: { properties: { id: { type: "string" } } },
          Inner: { properties: { depth: { type: "integer" } } },
        },
      },
    });
    expect(words.knownNames("post", "/things", "/body")).toEqual(["id", "inner", "list"]);
    expect(words.knownNames("post", "/things", "/body/inner")).toEqual(["depth"]);
    expect(words.knownNames("post", "/things", "/body/list/3")).toEqual(["depth"]);
    expect(words.knownNames("post", "/things", "/query")).toEqual(["page"]);
  });
});
