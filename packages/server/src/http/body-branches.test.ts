import { describe, expect, it } from "vitest";
import { branchOf, entriesOfBranch, type TaggedBody } from "./body-branches.js";

const tagged: TaggedBody = {
  property: "auth_type",
  branches: [
    { tag: "basic", tagRequired: false, properties: ["auth_type", "name", "username", "password"], required: ["name", "username", "password"] },
    { tag: "aws_ecr", tagRequired: true, properties: ["auth_type", "name", "aws_role_arn"], required: ["auth_type", "name"] },
  ],
};
const entry = (path: string, keyword: string, message = "m") => ({ path, message, errorCode: `${keyword}.openapi.validation` });

describe("a oneOf body's problems, narrowed to the schema the body picks", () => {
  // What ajv reports for `{ name: "x", usrname: "u" }` against both schemas.
  const both = [
    entry("/body/usrname", "additionalProperties", "must NOT have additional properties"),
    entry("/body/username", "required"),
    entry("/body/password", "required"),
    entry("/body/usrname", "additionalProperties", "must NOT have additional properties"),
    entry("/body/auth_type", "required"),
    entry("/body", "oneOf"),
  ];

  it("no tag: the basic schema's problems, each once", () => {
    expect(entriesOfBranch(both, tagged, { name: "x", usrname: "u" })).toEqual([both[0], both[1], both[2]]);
  });

  it("a tag picks its schema: the other's rules (a basic field unknown to it, its required ones) are dropped", () => {
    const awsBody = [entry("/body/username", "additionalProperties"), entry("/body/auth_type", "const"), entry("/body/password", "required"), entry("/body", "oneOf")];
    expect(entriesOfBranch(awsBody, tagged, { auth_type: "aws_ecr", name: "x", username: "u" })).toEqual([awsBody[0]]);
  });

  it("an unknown tag: one problem, at the tag, listing the tags", () => {
    expect(entriesOfBranch(both, tagged, { auth_type: "gcp" })).toEqual([
      { path: "/body/auth_type", message: "must be equal to one of the allowed values: basic, aws_ecr", errorCode: "enum.openapi.validation" },
    ]);
  });

  it("a body that is no object keeps its own problem, once", () => {
    const notObject = [entry("/body", "type", "must be object"), entry("/body", "type", "must be object"), entry("/body", "oneOf")];
    expect(entriesOfBranch(notObject, tagged, [])).toEqual([notObject[0]]);
  });
});

describe("a oneOf body's problems: what each kind of entry keeps", () => {
  const aws = { auth_type: "aws_ecr", name: "x" };

  it("keeps problems outside the body, and the body's own", () => {
    const kept = [entry("/query/verify", "type"), entry("/headers/x-workspace-id", "required"), entry("/body", "type", "must be object")];
    expect(entriesOfBranch(kept, tagged, aws)).toEqual(kept);
  });

  it("keeps a oneOf below the body: only the body's own is the choice of schema", () => {
    const nested = entry("/body/name", "oneOf");
    expect(entriesOfBranch([nested, entry("/body", "oneOf")], tagged, aws)).toEqual([nested]);
  });

  it("an unevaluated name is kept only when the picked schema does not know it", () => {
    const entries = [entry("/body/username", "unevaluatedProperties"), entry("/body/aws_role_arn", "unevaluatedProperties")];
    expect(entriesOfBranch(entries, tagged, aws)).toEqual([entries[0]]);
  });

  it("a missing name is kept only when the picked schema requires it, even one it knows", () => {
    const entries = [entry("/body/aws_role_arn", "required"), entry("/body/name", "required")];
    expect(entriesOfBranch(entries, tagged, aws)).toEqual([entries[1]]);
  });

  it("an entry without a keyword is kept for a name the schema knows", () => {
    const entries = [{ path: "/body/name", message: "bad" }, { path: "/body/password", message: "bad" }];
    expect(entriesOfBranch(entries, tagged, aws)).toEqual([entries[0]]);
  });

  it("only a trailing .openapi.validation is taken off a keyword", () => {
    const odd = { path: "/body", message: "m", errorCode: "oneO.openapi.validationf" };
    expect(entriesOfBranch([odd], tagged, aws)).toEqual([odd]);
  });
});

describe("a oneOf body where every schema needs its tag", () => {
  const allTagged: TaggedBody = { property: "kind", branches: [{ tag: "a", tagRequired: true, properties: ["kind"], required: ["kind"] }] };
  const entries = [entry("/body", "type", "must be object"), entry("/body", "oneOf")];

  it.each([null, [], "text", 5])("a body that is no object (%j) keeps its own problems but the choice of schema", (body) => {
    expect(branchOf(allTagged, body)).toBeUndefined();
    expect(entriesOfBranch(entries, allTagged, body)).toEqual([entries[0]]);
  });

  it("an object without the tag: one problem at the tag, listing the tags", () => {
    expect(entriesOfBranch(entries, allTagged, {})).toEqual([
      { path: "/body/kind", message: "must be equal to one of the allowed values: a", errorCode: "enum.openapi.validation" },
    ]);
  });

  it("a body that is no object picks the untagged schema where there is one", () => {
    expect(branchOf(tagged, null)?.tag).toBe("basic");
    expect(branchOf(tagged, Object.assign([], { auth_type: "aws_ecr" }))?.tag).toBe("basic");
  });
});

