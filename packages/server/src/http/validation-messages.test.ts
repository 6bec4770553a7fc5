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
