import { describe, expect, it } from "vitest";
import { CONTRACT_MISMATCH_DETAIL, explainProblems, MAX_REPORTED_PROBLEMS, validationDetail, type MessageContext, type ValidatorEntry } from "./validation-messages.js";

/** What express-openapi-validator 5.6 hands over: ajv's English message and `<keyword>.openapi.validation`. */
const ajv = (path: string, keyword: string, message: string): ValidatorEntry => ({ path, message, errorCode: `${keyword}.openapi.validation` });

const context: MessageContext = {
  patternWords: (pattern) => ({ "^\\S+$": "must not contain spaces or other whitespace" })[pattern],
  knownNames: (parent) =>
    ({ "/body": ["name", "server", "username", "password", "email", "enabled", "ca_certificate"], "/query": ["limit", "cursor", "enabled", "server"] })[parent] ?? [],
};

const wordsFor = (entry: ValidatorEntry) => explainProblems([entry], context).errors[0]?.message;

describe("explainProblems: each rule in words", () => {
  it.each([
    ["required", ajv("/body/username", "required", "must have required property 'username'"), "is required"],
    ["an unknown property close to a known one", ajv("/body/usrname", "additionalProperties", "must NOT have additional properties"), 'is not a known property; did you mean "username"?'],
    ["an unknown property close to none", ajv("/body/password_ciphertext", "additionalProperties", "must NOT have additional properties"), "is not a known property"],
    ["a type", ajv("/body/enabled", "type", "must be boolean"), "must be true or false"],
    ["a union type", ajv("/body/ca_certificate", "type", "must be string,null"), "must be a string or null"],
    ["an integer union", ajv("/body/ttl_seconds", "type", "must be integer,null"), "must be an integer or null"],
    ["an object", ajv("/body", "type", "must be object"), "must be an object"],
    ["minLength 1", ajv("/body/password", "minLength", "must NOT have fewer than 1 characters"), "must not be empty"],
    ["minLength 8", ajv("/body/password", "minLength", "must NOT have fewer than 8 characters"), "must be at least 8 characters long"],
    ["maxLength", ajv("/body/name", "maxLength", "must NOT have more than 255 characters"), "must be at most 255 characters long"],
    ["minimum", ajv("/body/memory_mb", "minimum", "must be >= 256"), "must be at least 256"],
    ["maximum", ajv("/query/limit", "maximum", "must be <= 200"), "must be at most 200"],
    ["exclusiveMinimum", ajv("/body/x", "exclusiveMinimum", "must be > 0"), "must be greater than 0"],
    ["exclusiveMaximum", ajv("/body/x", "exclusiveMaximum", "must be < 1.5"), "must be less than 1.5"],
    ["minProperties 1", ajv("/body", "minProperties", "must NOT have fewer than 1 properties"), "must have at least one property"],
    ["enum", ajv("/body/provider", "enum", "must be equal to one of the allowed values: dockerhub, ghcr"), "must be one of: dockerhub, ghcr"],
    ["format uuid", ajv("/params/registry_id", "format", 'must match format "uuid"'), "must be a UUID such as 0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70"],
    ["format email", ajv("/body/email", "format", 'must match format "email"'), "must be an email address"],
    ["another format", ajv("/body/x", "format", 'must match format "ipv4"'), "must be in the ipv4 format"],
    ["a pattern of the contract", ajv("/body/server", "pattern", 'must match pattern "^\\S+$"'), "must not contain spaces or other whitespace"],
    ["a pattern without words", ajv("/body/x", "pattern", 'must match pattern "^a+$"'), "is not in the form the contract requires"],
    ["an unknown query parameter", { path: "/query/Limit", message: "Unknown query parameter 'Limit'" }, 'is not a known parameter; did you mean "limit"?'],
    ["an empty query parameter", { path: "/query/server", message: "Empty value found for query parameter 'server'" }, "must not be empty"],
  ])("%s", (_label, entry, expected) => {
    expect(wordsFor(entry)).toBe(expected);
  });

  it("never says a regex", () => {
    const words = wordsFor(ajv("/body/x", "pattern", 'must match pattern "^[a-z]{3}$"'));
    expect(words).not.toContain("^");
    expect(words).not.toContain("pattern");
  });

  it("keeps ajv's words for a keyword it has none for (they never hold the value)", () => {
    expect(wordsFor(ajv("/body/x", "contains", "must contain at least 1 valid item(s)"))).toBe("must contain at least 1 valid item(s)");
  });

  it("says which sent field makes another one required", () => {
    expect(wordsFor(ajv("/body/b", "dependentRequired", "must have property b when property a is present"))).toBe("is required when a is sent");
  });

  it("answers paths JSON-pointer style, a missing property at its own path", () => {
    const { errors } = explainProblems([{ path: ".query.limit", message: "must be <= 200", errorCode: "maximum.openapi.validation" }, ajv("/body/username", "required", "x")], context);
    expect(errors.map((e) => e.path)).toEqual(["/query/limit", "/body/username"]);
  });

  it("reports every problem, unknown names first, the rest in the validator's order, each once", () => {
    const { errors, total } = explainProblems(
      [
        ajv("/body/username", "required", "must have required property 'username'"),
        ajv("/body/server", "pattern", 'must match pattern "^\\S+$"'),
        ajv("/body/usrname", "additionalProperties", "must NOT have additional properties"),
        ajv("/body/server", "pattern", 'must match pattern "^\\S+$"'),
        ajv("/body/enabled", "type", "must be boolean"),
      ],
      context,
    );
    expect(errors).toEqual([
      { path: "/body/usrname", message: 'is not a known property; did you mean "username"?' },
      { path: "/body/username", message: "is required" },
      { path: "/body/server", message: "must not contain spaces or other whitespace" },
      { path: "/body/enabled", message: "must be true or false" },
    ]);
    expect(total).toBe(4);
  });

  it(`lists at most ${MAX_REPORTED_PROBLEMS} problems and counts them all`, () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ajv(`/body/k${i}`, "additionalProperties", "must NOT have additional properties"));
    const started = performance.now();
    const { errors, total } = explainProblems([ajv("/body/username", "required", "must have required property 'username'"), ...entries], context);
    expect(performance.now() - started).toBeLessThan(100);
    expect(errors).toHaveLength(MAX_REPORTED_PROBLEMS);
    expect(errors.every((e) => e.message.startsWith("is not a known property"))).toBe(true);
    expect(total).toBe(5001);
  });

  it("suggests nothing where it knows no names", () => {
    expect(wordsFor(ajv("/body/nested/usrname", "additionalProperties", "must NOT have additional properties"))).toBe("is not a known property");
  });
});

describe("validationDetail", () => {
  it.each([
    [[{ path: "/body/username", message: "is required" }], 1, "username is required."],
    [[{ path: "/body/username", message: "is required" }], 3, "username is required (and 2 more problems)."],
    [[{ path: "/body/usrname", message: 'is not a known property; did you mean "username"?' }], 2, 'usrname is not a known property; did you mean "username"? (and 1 more problem)'],
    [[{ path: "/query/limit", message: "must be at most 200" }], 1, "query parameter limit must be at most 200."],
    [[{ path: "/params/registry_id", message: "must be a UUID" }], 1, "path parameter registry_id must be a UUID."],
    [[{ path: "/headers/x-workspace-id", message: "is required" }], 1, "header x-workspace-id is required."],
    [[{ path: "/body", message: "must be an object" }], 1, "the request body must be an object."],
  ])("%j (%i in all) → %j", (errors, total, detail) => {
    expect(validationDetail(errors, total)).toBe(detail);
  });

  it("quotes at most 64 characters of a name the caller sent", () => {
    const detail = validationDetail([{ path: `/body/${"k".repeat(10_000)}`, message: "is not a known property" }]);
    expect(detail).toBe(`${"k".repeat(63)}… is not a known property.`);
  });

  it("falls back to the generic sentence when there is nothing to say", () => {
    expect(validationDetail([])).toBe(CONTRACT_MISMATCH_DETAIL);
  });
});

describe("explainProblems: the rest of the rules", () => {
  it.each([
    ["minLength 2", ajv("/body/x", "minLength", "must NOT have fewer than 2 characters"), "must be at least 2 characters long"],
    ["maxLength 1", ajv("/body/x", "maxLength", "must NOT have more than 1 characters"), "must be at most 1 character long"],
    ["multipleOf", ajv("/body/x", "multipleOf", "must be multiple of 0.25"), "must be a multiple of 0.25"],
    ["minProperties 2", ajv("/body", "minProperties", "must NOT have fewer than 2 properties"), "must have at least 2 properties"],
    ["maxProperties 1", ajv("/body", "maxProperties", "must NOT have more than 1 properties"), "must have at most 1 property"],
    ["maxProperties 3", ajv("/body", "maxProperties", "must NOT have more than 3 properties"), "must have at most 3 properties"],
    ["minItems 1", ajv("/body/list", "minItems", "must NOT have fewer than 1 items"), "must have at least 1 item"],
    ["minItems 2", ajv("/body/list", "minItems", "must NOT have fewer than 2 items"), "must have at least 2 items"],
    ["maxItems", ajv("/body/list", "maxItems", "must NOT have more than 50 items"), "must have at most 50 items"],
    ["maxItems 1", ajv("/body/list", "maxItems", "must NOT have more than 1 items"), "must have at most 1 item"],
    ["minLength 0", ajv("/body/x", "minLength", "must NOT have fewer than 0 characters"), "must be at least 0 characters long"],
    ["minProperties 0", ajv("/body", "minProperties", "must NOT have fewer than 0 properties"), "must have at least 0 properties"],
    ["an enum whose values run over lines", ajv("/body/x", "enum", "must be equal to one of the allowed values: a,\nb"), "must be one of: a,\nb"],
    ["uniqueItems", ajv("/body/list", "uniqueItems", "must NOT have duplicate items (items ## 1 and 0 are identical)"), "must not contain the same item twice"],
    ["const", ajv("/body/kind", "const", "must be equal to constant"), "must be the value the contract gives"],
    ["oneOf", ajv("/body", "oneOf", "must match exactly one schema in oneOf"), "does not match any of the forms the contract allows"],
    ["anyOf", ajv("/body", "anyOf", "must match a schema in anyOf"), "does not match any of the forms the contract allows"],
    ["not", ajv("/body", "not", "must NOT be valid"), "is in a form the contract does not allow"],
    ["an unevaluated property", ajv("/body/usrname", "unevaluatedProperties", "must NOT have unevaluated properties"), 'is not a known property; did you mean "username"?'],
    ["an enum without its values", ajv("/body/x", "enum", "must be equal to one of the allowed values"), "must be one of the values the contract lists"],
    ["a date-time", ajv("/body/x", "format", 'must match format "date-time"'), "must be a date and time such as 2026-11-28T12:00:00Z"],
    ["a date", ajv("/body/x", "format", 'must match format "date"'), "must be a date such as 2026-11-28"],
    ["a uri", ajv("/body/x", "format", 'must match format "uri"'), "must be an absolute URI"],
    ["a hostname", ajv("/body/x", "format", 'must match format "hostname"'), "must be a host name"],
    ["a format message of another shape", ajv("/body/x", "format", "must be formatted"), "is not in the format the contract requires"],
    ["a format message with words before", ajv("/body/x", "format", 'value must match format "uuid"'), "is not in the format the contract requires"],
    ["a format message with words after", ajv("/body/x", "format", 'must match format "uuid" here'), "is not in the format the contract requires"],
    ["a pattern message with words before", ajv("/body/x", "pattern", 'it must match pattern "^\\S+$"'), "is not in the form the contract requires"],
    ["a pattern message with words after", ajv("/body/x", "pattern", 'must match pattern "^\\S+$" here'), "is not in the form the contract requires"],
    ["a required field named by the one sent", ajv("/body/b", "dependentRequired", "must have property b when property account_id is present"), "is required when account_id is sent"],
    ["a dependency in other words", ajv("/body/b", "dependentRequired", "must have property b"), "is required with another field that was sent"],
    ["a dependency with words after", ajv("/body/b", "dependentRequired", "must have property b when property a is present today"), "is required with another field that was sent"],
    ["three types", ajv("/body/x", "type", "must be string,integer,null"), "must be a string, an integer or null"],
    ["an array", ajv("/body/x", "type", "must be array"), "must be an array"],
    ["a number", ajv("/body/x", "type", "must be number"), "must be a number"],
    ["a type it has no words for", ajv("/body/x", "type", "must be thing"), "must be thing"],
    ["a union with a type it has no words for", ajv("/body/x", "type", "must be string,thing"), "must be string,thing"],
    ["a type message with words before", ajv("/body/x", "type", "it must be string"), "it must be string"],
    ["a type message on two lines", ajv("/body/x", "type", "must be string\nor else"), "must be string\nor else"],
    ["a limit without a number", ajv("/body/x", "maximum", "must be small"), "must be small"],
    ["a limit with decimals", ajv("/body/x", "maximum", "must be <= 2.55"), "must be at most 2.55"],
    ["a limit with an exponent", ajv("/body/x", "maximum", "must be <= 1e+21"), "must be at most 1e+21"],
    ["a limit with a bare exponent", ajv("/body/x", "maximum", "must be <= 1e21"), "must be at most 1e+21"],
    ["a limit with a negative exponent", ajv("/body/x", "minimum", "must be >= -1.5e-7"), "must be at least -1.5e-7"],
    ["the last of several numbers", ajv("/body/x", "maximum", "rule 1 of 2: must be <= 30"), "must be at most 30"],
    ["a keyword with more than the suffix after it", { path: "/body/x", message: "ajv's own words", errorCode: "require.openapi.validationd" }, "ajv's own words"],
    ["a keyword it does not know, without a message", { path: "/body/x", errorCode: "contains.openapi.validation" }, "is not valid"],
    ["a validator message of its own", { path: "/query/x", message: "something else" }, "something else"],
    ["a validator entry with no message", { path: "/query/x" }, "is not valid"],
    ["a malformed URL", { path: "/params/id", message: "malformed uri component" }, "is not a valid URL path (bad percent-encoding)"],
  ])("%s", (_label, entry, expected) => {
    expect(wordsFor(entry)).toBe(expected);
  });

  it("asks the contract for the words of a pattern only when the message has one", () => {
    const eager: MessageContext = { patternWords: () => "must be eager", knownNames: () => [] };
    expect(explainProblems([ajv("/body/x", "pattern", "must be patterned")], eager).errors[0]?.message).toBe("is not in the form the contract requires");
  });

  it("suggests from the names of the field's own parent", () => {
    const ids: MessageContext = { patternWords: () => undefined, knownNames: (parent) => (parent === "/body" ? ["id"] : []) };
    expect(explainProblems([ajv("/body/ib", "additionalProperties", "must NOT have additional properties")], ids).errors[0]?.message).toBe('is not a known property; did you mean "id"?');
  });

  it("puts unknown query parameters first, and only those of the validator's own wording", () => {
    const { errors } = explainProblems(
      [
        ajv("/body/username", "required", "x"),
        { path: "/query/server", message: "Empty value found for query parameter 'server'" },
        { path: "/query/limt", message: "Unknown query parameter 'limt'" },
        { path: "/query/other", message: "Unknown query parameter 'other'", errorCode: "x.openapi.validation" },
      ],
      context,
    );
    expect(errors.map((e) => e.path)).toEqual(["/query/limt", "/body/username", "/query/server", "/query/other"]);
  });

  it("a problem without a path is at the root; dotted paths become pointers", () => {
    const { errors } = explainProblems([{ message: "must be object", errorCode: "type.openapi.validation" }, ajv("body.name", "required", "x"), ajv(".a.b.c", "required", "x")], context);
    expect(errors.map((e) => e.path)).toEqual(["/", "/body/name", "/a/b/c"]);
  });

  it("looks at one more of each kind than it lists: a repeat beyond them is counted, not dropped", () => {
    const first = ajv("/body/k0", "additionalProperties", "must NOT have additional properties");
    const distinct = Array.from({ length: MAX_REPORTED_PROBLEMS + 1 }, (_, i) => ajv(`/body/k${i}`, "additionalProperties", "must NOT have additional properties"));
    expect(explainProblems([...distinct, first], context).total).toBe(MAX_REPORTED_PROBLEMS + 2);
    expect(explainProblems([...distinct.slice(0, MAX_REPORTED_PROBLEMS), first], context).total).toBe(MAX_REPORTED_PROBLEMS);
  });
});

describe("validationDetail: how a path is named", () => {
  it.each([
    [{ path: "/body/registry/name", message: "is required" }, "registry/name is required."],
    [{ path: "/query", message: "must be an object" }, "/query must be an object."],
    [{ path: "/cookies/session", message: "is required" }, "/cookies/session is required."],
    [{ path: `/body/${"k".repeat(64)}`, message: "is not a known property" }, `${"k".repeat(64)} is not a known property.`],
    [{ path: `/body/${"k".repeat(65)}`, message: "is not a known property" }, `${"k".repeat(63)}… is not a known property.`],
  ])("%j → %j", (error, detail) => {
    expect(validationDetail([error])).toBe(detail);
  });
});

