import type { Request, Response } from "express";
import { describe, expect, it } from "vitest";
import { sendProblem, type ProblemInput } from "./problem.js";

/** What sendProblem wrote: status, headers, content type and the parsed body. */
function sent(problem: ProblemInput, options: { url?: string; requestId?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.requestId !== undefined) headers["x-request-id"] = options.requestId;
  const out = { status: 0, type: "", headers, text: "" };
  const res = {
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
      return res;
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
    status(code: number) {
      out.status = code;
      return res;
    },
    type(type: string) {
      out.type = type;
      return res;
    },
    send(text: string) {
      out.text = text;
      return res;
    },
  } as unknown as Response;
  sendProblem({ originalUrl: options.url ?? "/registries/r1?verify=true&x=1" } as Request, res, problem);
  return { ...out, body: JSON.parse(out.text) as Record<string, unknown> };
}

describe("sendProblem", () => {
  it("writes an RFC 9457 problem from the table: type, title, status, detail, the path as instance, code and request id", () => {
    const { status, type, body, headers } = sent({ code: "not_found", detail: "No such registry." }, { requestId: "req-7" });
    expect(status).toBe(404);
    expect(type).toBe("application/problem+json");
    expect(body).toEqual({
      type: "https://modbox.dev/problems/not_found",
      title: "Not found",
      status: 404,
      detail: "No such registry.",
      instance: "/registries/r1",
      code: "not_found",
      request_id: "req-7",
    });
    expect(headers).toEqual({ "x-request-id": "req-7" });
  });

  it("answers an empty request id when none was set", () => {
    expect(sent({ code: "not_found", detail: "x" }).body.request_id).toBe("");
  });

  it("keeps a path without a query as it is", () => {
    expect(sent({ code: "not_found", detail: "x" }, { url: "/a/b" }).body.instance).toBe("/a/b");
  });

  it("says Retry-After when given, even 0, and only then", () => {
    expect(sent({ code: "rate_limited", detail: "x", retryAfter: 12 }).headers["retry-after"]).toBe("12");
    expect(sent({ code: "rate_limited", detail: "x", retryAfter: 0 }).headers["retry-after"]).toBe("0");
    expect(sent({ code: "rate_limited", detail: "x" }).headers).not.toHaveProperty("retry-after");
  });

  it("asks for a bearer token on a 401 only", () => {
    expect(sent({ code: "unauthorized", detail: "x" }).headers["www-authenticate"]).toBe('Bearer realm="modbox"');
    expect(sent({ code: "insufficient_scope", detail: "x" }).headers).not.toHaveProperty("www-authenticate");
    expect(sent({ code: "registry_host_mismatch", detail: "x", status: 401 }).headers["www-authenticate"]).toBe('Bearer realm="modbox"');
  });

  it("lists field errors when there are some, and extension members", () => {
    const errors = [{ path: "/body/name", message: "is required" }];
    expect(sent({ code: "validation_failed", detail: "x", errors }).body.errors).toEqual(errors);
    expect(sent({ code: "validation_failed", detail: "x", errors: [] }).body).not.toHaveProperty("errors");
    expect(sent({ code: "validation_failed", detail: "x" }).body).not.toHaveProperty("errors");
    expect(sent({ code: "registry_in_use", detail: "x", extensions: { linked_image_ids: ["i1"] } }).body).toMatchObject({ linked_image_ids: ["i1"], status: 409 });
  });

  it("takes a status that overrides the table's, keeping the table's title", () => {
    const { status, body } = sent({ code: "registry_host_mismatch", detail: "x", status: 409 });
    expect(status).toBe(409);
    expect(body).toMatchObject({ status: 409, title: "Validation failed", code: "registry_host_mismatch" });
  });
});
