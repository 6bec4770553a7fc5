import { describe, expect, it } from "vitest";
import { entriesOfBranch, type TaggedBody } from "./body-branches.js";

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
