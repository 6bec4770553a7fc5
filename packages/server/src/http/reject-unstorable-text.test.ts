import type { Request, Response } from "express";
import { describe, expect, it } from "vitest";
import { DomainError } from "../errors.js";
import { rejectUnstorableText } from "./reject-unstorable-text.js";

/** What the middleware passes on: nothing (the request goes on) or the error it is answered with. */
function passedOn(body: unknown, query: unknown = {}): unknown[] {
  const args: unknown[][] = [];
  rejectUnstorableText({ body, query } as Request, {} as Response, (...a: unknown[]) => void args.push(a));
  expect(args).toHaveLength(1);
  return args[0]!;
}

const MESSAGE = "must not contain NUL characters or unpaired UTF-16 surrogates";

describe("rejectUnstorableText", () => {
  it.each([
    ["plain text", { name: "hub", tags: ["a", "b"] }],
    ["a well-formed surrogate pair", { name: "smile \ud83d\ude00" }],
    ["numbers, booleans and null", { n: 1, b: false, z: null, list: [0, true, null] }],
    ["no body", undefined],
  ])("lets %s through", (_label, body) => {
    expect(passedOn(body, { q: "x" })).toEqual([]);
  });

  it.each([
    ["a NUL character", "a\u0000b"],
    ["a lone high surrogate", "a\ud800"],
    ["a lone low surrogate", "\udc00b"],
  ])("answers 422 for %s, naming the field and never the value", (_label, text) => {
    const [error] = passedOn({ name: "ok", nested: { list: ["fine", text] } });
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({
      code: "validation_failed",
      detail: "The request contains text that cannot be stored.",
      fieldErrors: [{ path: "/body/nested/list/1", message: MESSAGE }],
    });
    expect(JSON.stringify((error as DomainError).fieldErrors)).not.toContain(text);
  });

  it("names every such field, the body's first, then the query's", () => {
    const [error] = passedOn({ a: "\u0000", b: ["\ud800"] }, { q: "x\u0000" });
    expect((error as DomainError).fieldErrors).toEqual([
      { path: "/body/a", message: MESSAGE },
      { path: "/body/b/0", message: MESSAGE },
      { path: "/query/q", message: MESSAGE },
    ]);
  });

  it("a body that is itself such a string is named as the body", () => {
    const [error] = passedOn("\u0000");
    expect((error as DomainError).fieldErrors).toEqual([{ path: "/body", message: MESSAGE }]);
  });
});
