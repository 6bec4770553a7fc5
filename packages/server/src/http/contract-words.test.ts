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

/** A contract of one route `/things` with `operation` on `method`, and these schemas. */
const contractWith = (operations: Record<string, unknown>, schemas: Record<string, unknown> = {}, shared?: unknown[]) =>
  contractWordsOf({ paths: { "/things": { ...(shared && { parameters: shared }), ...operations } }, components: { schemas } });
const jsonBody = (schema: unknown) => ({ requestBody: { content: { "application/json": { schema } } } });

describe("the contract's words: refusing a pattern it cannot explain", () => {
  it("names where the pattern without words is, inside arrays too", () => {
    expect(() => contractWordsOf({ components: { schemas: { A: { allOf: [{ pattern: "^a$", "x-pattern-message": "   " }] } } } })).toThrow(
      new Error("openapi.yaml: the pattern at #/components/schemas/A/allOf/0 has no x-pattern-message (the words a refused value is told)"),
    );
  });

  it("quotes both wordings of a pattern worded twice, and accepts the same words twice", () => {
    const twice = (a: string, b: string) => ({ components: { schemas: { A: { pattern: "^a$", "x-pattern-message": a }, B: { pattern: "^a$", "x-pattern-message": b } } } });
    expect(() => contractWordsOf(twice("must be a", "must be b"))).toThrow(new Error('openapi.yaml: the pattern "^a$" has two wordings: "must be a" and "must be b"'));
    expect(contractWordsOf(twice("must be a", "must be a")).patternWords("^a$")).toBe("must be a");
  });

  it("skips examples, and says nothing of a pattern it does not have", () => {
    const words = contractWordsOf({ components: { schemas: { A: { examples: [{ pattern: "data" }], properties: { p: { pattern: "^p$", "x-pattern-message": "must be p" } } } } } });
    expect(words.patternWords("^p$")).toBe("must be p");
    expect(words.patternWords("data")).toBeUndefined();
  });
});

describe("the contract's words: the names an operation knows", () => {
  it("merges the route's and the operation's query parameters once each, leaving out the other places", () => {
    const words = contractWith(
      {
        get: {
          parameters: [
            { name: "limit", in: "query" },
            { name: "cursor", in: "query" },
            { name: "x-trace", in: "header" },
            { name: 7, in: "query" },
            "not a parameter",
          ],
        },
      },
      {},
      [{ name: "limit", in: "query" }, { name: "id", in: "path" }],
    );
    expect(words.knownNames("GET", "/things", "/query")).toEqual(["limit", "cursor"]);
    expect(words.knownNames("get", "/things", "/query")).toEqual(["limit", "cursor"]);
    expect(words.knownNames("HEAD", "/things", "/query")).toEqual(["limit", "cursor"]);
    expect(words.knownNames("OPTIONS", "/things", "/query")).toEqual([]);
    expect(words.knownNames("GET", "/things", "/query/limit")).toEqual([]);
    expect(words.knownNames("GET", "/things", "/body")).toEqual([]);
  });

  it("a HEAD the contract writes itself is not the GET's", () => {
    const words = contractWith({ get: { parameters: [{ name: "a", in: "query" }] }, head: { parameters: [{ name: "b", in: "query" }] } });
    expect(words.knownNames("HEAD", "/things", "/query")).toEqual(["b"]);
  });

  it("reads a body given by $ref, and only a JSON one", () => {
    const words = contractWordsOf({
      paths: {
        "/things": {
          post: { requestBody: { $ref: "#/components/requestBodies/Thing" } },
          put: { requestBody: { content: { "text/plain": { schema: { properties: { text: {} } } } } } },
          patch: { requestBody: { content: { "application/json": "no schema" } } },
        },
        "/broken": "not a path item",
      },
      components: { requestBodies: { Thing: { content: { "application/json": { schema: { properties: { a: {}, b: {} } } } } } } },
    });
    expect(words.knownNames("POST", "/things", "/body")).toEqual(["a", "b"]);
    expect(words.knownNames("PUT", "/things", "/body")).toEqual([]);
    expect(words.knownNames("PATCH", "/things", "/body")).toEqual([]);
    expect(words.knownNames("POST", "/broken", "/body")).toEqual([]);
  });

  it("has no operations in a contract without paths", () => {
    expect(contractWordsOf({ paths: ["not", "a", "map"] }).knownNames("GET", "/0", "/query")).toEqual([]);
    expect(contractWordsOf({}).knownNames("GET", "/things", "/query")).toEqual([]);
  });

  it("follows JSON-pointer escapes in a $ref and in a path", () => {
    const words = contractWith(
      { post: jsonBody({ properties: { "a/b": { $ref: "#/components/schemas/x~1y~0z" }, "c~d": { properties: { deep: {} } } } }) },
      { "x/y~z": { properties: { inner: {} } } },
    );
    expect(words.knownNames("post", "/things", "/body")).toEqual(["a/b", "c~d"]);
    expect(words.knownNames("post", "/things", "/body/a~1b")).toEqual(["inner"]);
    expect(words.knownNames("post", "/things", "/body/c~0d")).toEqual(["deep"]);
  });

  it("an array's items only at a numeric segment, and nothing past a value with no schema", () => {
    const words = contractWith({ post: jsonBody({ properties: { list: { items: { properties: { x: {} } } } } }) });
    expect(words.knownNames("post", "/things", "/body/list/0")).toEqual(["x"]);
    expect(words.knownNames("post", "/things", "/body/list/12")).toEqual(["x"]);
    expect(words.knownNames("post", "/things", "/body/list/first")).toEqual([]);
    expect(words.knownNames("post", "/things", "/body/list/x1")).toEqual([]);
    expect(words.knownNames("post", "/things", "/body/list/1x")).toEqual([]);
    expect(words.knownNames("post", "/things", "/body/nothing/0")).toEqual([]);
    expect(words.knownNames("post", "/things", "/body/list/0/x")).toEqual([]);
  });

  it("the names of every form of a oneOf, each once", () => {
    const words = contractWith(
      { post: jsonBody({ oneOf: [{ $ref: "#/components/schemas/A" }, { $ref: "#/components/schemas/B" }, "not a schema"] }) },
      { A: { properties: { kind: {}, a: {} } }, B: { properties: { kind: {}, b: {} } } },
    );
    expect(words.knownNames("post", "/things", "/body")).toEqual(["kind", "a", "b"]);
  });

  it("knows nothing for no route", () => {
    const words = contractWith({ post: jsonBody({ properties: { a: {} } }) });
    expect(words.knownNames("post", undefined, "/body")).toEqual([]);
    expect(contractWords.knownNames("POST", undefined, "/query")).toEqual([]);
    expect(contractWords.taggedBody("POST", undefined)).toBeUndefined();
  });

  it("takes a property of the schema itself before an allOf part without it", () => {
    const words = contractWith({
      post: jsonBody({ allOf: [{ properties: { other: {} } }], properties: { inner: { properties: { deep: {} } } } }),
    });
    expect(words.knownNames("post", "/things", "/body")).toEqual(["inner", "other"]);
    expect(words.knownNames("post", "/things", "/body/inner")).toEqual(["deep"]);
  });

  it("reads no names from a list where a map or a list of schemas belongs", () => {
    const words = contractWith(
      {
        post: jsonBody({ properties: ["a", "b"], allOf: { properties: { c: {} } }, oneOf: { properties: { d: {} } } }),
        get: { parameters: { name: "solo", in: "query" } },
      },
      {},
      { name: "shared", in: "query" } as unknown as unknown[],
    );
    expect(words.knownNames("post", "/things", "/body")).toEqual([]);
    expect(words.knownNames("get", "/things", "/query")).toEqual([]);
  });

  it("skips a route that is null", () => {
    const words = contractWordsOf({ paths: { "/gone": null, "/things": { get: { parameters: [{ name: "a", in: "query" }] } } } });
    expect(words.knownNames("get", "/things", "/query")).toEqual(["a"]);
    expect(words.knownNames("get", "/gone", "/query")).toEqual([]);
  });

  it("follows only a $ref into this document", () => {
    const words = contractWith(
      { post: jsonBody({ properties: { here: { $ref: "#/components/schemas/A" }, there: { $ref: "other.yaml#/components/schemas/A" } } }) },
      { A: { properties: { a: {} } } },
    );
    expect(words.knownNames("post", "/things", "/body/here")).toEqual(["a"]);
    expect(words.knownNames("post", "/things", "/body/there")).toEqual([]);
  });

  it("follows a chain of 33 $refs, and no longer one", () => {
    // R0 → R1 → … → R<n-1> → the schema: n + 1 refs from the body's own.
    const chain = (n: number) => {
      const schemas: Record<string, unknown> = { End: { properties: { deep: {} } } };
      for (let i = 0; i < n; i++) schemas[`R${i}`] = { $ref: i === n - 1 ? "#/components/schemas/End" : `#/components/schemas/R${i + 1}` };
      return contractWith({ post: jsonBody({ $ref: "#/components/schemas/R0" }) }, schemas);
    };
    expect(chain(32).knownNames("post", "/things", "/body")).toEqual(["deep"]);
    expect(chain(33).knownNames("post", "/things", "/body")).toEqual([]);
  });

  it("reads allOf parts 33 levels deep, and no deeper", () => {
    const schemas: Record<string, unknown> = {};
    for (let i = 0; i <= 34; i++) schemas[`L${i}`] = { properties: { [`p${i}`]: {} }, ...(i < 34 && { allOf: [{ $ref: `#/components/schemas/L${i + 1}` }] }) };
    const names = contractWith({ post: jsonBody({ $ref: "#/components/schemas/L0" }) }, schemas).knownNames("post", "/things", "/body");
    expect(names).toEqual(Array.from({ length: 34 }, (_, i) => `p${i}`));
  });

  it("stops on a $ref or allOf that loops", () => {
    const words = contractWith(
      { post: jsonBody({ properties: { loop: { $ref: "#/components/schemas/Loop" }, self: { $ref: "#/components/schemas/Self" } } }) },
      { Loop: { $ref: "#/components/schemas/Loop" }, Self: { allOf: [{ $ref: "#/components/schemas/Self" }], properties: { s: {} } } },
    );
    expect(words.knownNames("post", "/things", "/body/loop")).toEqual([]);
    expect(words.knownNames("post", "/things", "/body/self")).toEqual(["s"]);
  });

  it("a $ref to nothing is no schema", () => {
    const words = contractWith({ post: jsonBody({ properties: { gone: { $ref: "#/components/schemas/Gone" }, odd: { $ref: "#/components/schemas/A/properties/n/x" } } }) }, { A: { properties: { n: 5 } } });
    expect(words.knownNames("post", "/things", "/body/gone")).toEqual([]);
    expect(words.knownNames("post", "/things", "/body/odd")).toEqual([]);
  });
});

describe("the contract's words: a body of several forms told apart by a tag", () => {
  const forms = {
    Basic: { required: ["name", 3], properties: { kind: { $ref: "#/components/schemas/BasicKind" }, name: {}, password: {} } },
    BasicKind: { const: "basic" },
    Cloud: { allOf: [{ properties: { region: {} } }], required: ["kind", "name"], properties: { kind: { const: "cloud" }, name: {} } },
  };

  it("names the tag, and for each form its value, whether it must be sent, its names and its required ones", () => {
    const words = contractWith({ post: jsonBody({ oneOf: [{ $ref: "#/components/schemas/Basic" }, { $ref: "#/components/schemas/Cloud" }] }) }, forms);
    expect(words.taggedBody("POST", "/things")).toEqual({
      property: "kind",
      branches: [
        { tag: "basic", tagRequired: false, properties: ["kind", "name", "password"], required: ["name"] },
        { tag: "cloud", tagRequired: true, properties: ["kind", "name", "region"], required: ["kind", "name"] },
      ],
    });
  });

  it("the tag is the first property every form gives a string const", () => {
    const words = contractWith({
      post: jsonBody({
        oneOf: [
          { properties: { n: { const: 1 }, a: { const: "x" }, b: { const: "p" } } },
          { properties: { n: { const: 2 }, a: {}, b: { const: "q" } } },
        ],
      }),
    });
    expect(words.taggedBody("post", "/things")).toMatchObject({ property: "b", branches: [{ tag: "p", tagRequired: false, required: [] }, { tag: "q" }] });
  });

  it.each<[string, unknown]>([
    ["a body of one schema", { properties: { kind: { const: "a" } } }],
    ["an empty oneOf", { oneOf: [] }],
    ["a oneOf that is no list", { oneOf: { kind: { const: "a" } } }],
    ["a form that is no object", { oneOf: [{ properties: { kind: { const: "a" } } }, "b"] }],
    ["a form without properties", { oneOf: [{ properties: { kind: { const: "a" } } }, { type: "string" }] }],
    ["no property every form tags", { oneOf: [{ properties: { kind: { const: "a" } } }, { properties: { kind: { type: "string" }, other: { const: "b" } } }] }],
  ])("none for %s", (_label, schema) => {
    expect(contractWith({ post: jsonBody(schema) }).taggedBody("post", "/things")).toBeUndefined();
  });

  it("a form without a property another form tags does not stop the search for the tag", () => {
    const words = contractWith({
      post: jsonBody({ oneOf: [{ properties: { extra: { const: "x" }, kind: { const: "a" } } }, { properties: { kind: { const: "b" } } }] }),
    });
    expect(words.taggedBody("post", "/things")).toMatchObject({ property: "kind", branches: [{ tag: "a" }, { tag: "b" }] });
  });

  it("none for an operation the contract does not have, or one without a body", () => {
    const words = contractWith({ get: {} });
    expect(words.taggedBody("post", "/things")).toBeUndefined();
    expect(words.taggedBody("get", "/things")).toBeUndefined();
  });

  it("the contract's registry create body is told apart by auth_type, basic when none is sent", () => {
    const tagged = contractWords.taggedBody("POST", "/registries");
    expect(tagged?.property).toBe("auth_type");
    expect(tagged?.branches.map((b) => [b.tag, b.tagRequired])).toEqual([
      ["basic", false],
      ["aws_ecr", true],
      ["gcp_service_account", true],
      ["azure_service_principal", true],
    ]);
  });
});

