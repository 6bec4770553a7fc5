import { describe, expect, test } from "vitest";
import {
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  ModboxError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  PreconditionFailedError,
  RateLimitError,
  ServiceUnavailableError,
  UnprocessableEntityError,
} from "./errors.js";
import { problem } from "./testing/fake-fetch.js";

async function fromResponse(response: Response): Promise<APIError> {
  const text = await response.clone().text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: passed on as text, like openapi-fetch does
  }
  return APIError.from(response, body);
}

describe("APIError.from", () => {
  test.each([
    [400, BadRequestError, "malformed_request"],
    [401, AuthenticationError, "unauthorized"],
    [403, PermissionDeniedError, "workspace_forbidden"],
    [404, NotFoundError, "not_found"],
    [409, ConflictError, "registry_name_taken"],
    [409, ConflictError, "idempotency_in_progress"],
    [409, ConflictError, "concurrent_modification"],
    [412, PreconditionFailedError, "precondition_failed"],
    [413, PayloadTooLargeError, "payload_too_large"],
    [422, UnprocessableEntityError, "validation_failed"],
    [422, UnprocessableEntityError, "idempotency_key_reused"],
    [429, RateLimitError, "rate_limited"],
    [500, InternalServerError, "internal_error"],
    [503, ServiceUnavailableError, "service_unavailable"],
  ] as const)("%i → %o", async (status, ErrorClass, code) => {
    const error = await fromResponse(
      problem(status, { code, title: "T", detail: "D", request_id: "req-1" }),
    );
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toBeInstanceOf(ModboxError);
    expect(error.name).toBe(ErrorClass.name);
    expect(error).toMatchObject({ status, code, title: "T", detail: "D", requestId: "req-1" });
    expect(error.problem).toMatchObject({ status, code, request_id: "req-1" });
    expect(error.message).toBe(`${status} ${code}: D`);
  });

  test("other 5xx statuses are InternalServerError; 503 is one too", async () => {
    expect(await fromResponse(problem(502, { code: "internal_error" }))).toBeInstanceOf(
      InternalServerError,
    );
    expect(await fromResponse(problem(503))).toBeInstanceOf(InternalServerError);
  });

  test("an unlisted 4xx is a plain APIError", async () => {
    const error = await fromResponse(problem(415, { code: "unsupported_media_type" }));
    expect(error.constructor).toBe(APIError);
    expect(error.code).toBe("unsupported_media_type");
  });

  test("422 lists the failed rules, and drops malformed entries", async () => {
    const response = problem(422, {
      code: "validation_failed",
      errors: [
        { path: "/body/name", message: "must be at most 255 characters long" },
        { path: "/body/password", message: "must not be empty" },
        { nonsense: true } as never,
      ],
    });
    const error = (await fromResponse(response)) as UnprocessableEntityError;
    expect(error.errors).toEqual([
      { path: "/body/name", message: "must be at most 255 characters long" },
      { path: "/body/password", message: "must not be empty" },
    ]);
  });

  test("a 422's message names its first failed rule, and how many more there are", async () => {
    const response = problem(422, {
      code: "validation_failed",
      detail: "The request does not match the API contract.",
      errors: [
        { path: "/body/server", message: "must not contain spaces" },
        { path: "/body/username", message: "is required" },
        { path: "/body/usrname", message: 'is not a known property; did you mean "username"?' },
      ],
    });
    const error = await fromResponse(response);
    expect(error.message).toBe("422 validation_failed: /body/server: must not contain spaces (and 2 more in .errors)");
    const single = await fromResponse(problem(422, { code: "validation_failed", errors: [{ path: "/query/limit", message: "must be at most 100" }] }));
    expect(single.message).toBe("422 validation_failed: /query/limit: must be at most 100");
  });

  test("a 422 without errors has an empty list and says its detail", async () => {
    const error = (await fromResponse(problem(422))) as UnprocessableEntityError;
    expect(error.errors).toEqual([]);
  });

  test("a body that is not a problem leaves problem undefined and the message generic", async () => {
    const response = new Response("<html>Bad Gateway</html>", {
      status: 502,
      headers: { "content-type": "text/html", "x-request-id": "req-from-header" },
    });
    const error = await fromResponse(response);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error.problem).toBeUndefined();
    expect(error.code).toBeUndefined();
    expect(error.requestId).toBe("req-from-header");
    expect(error.message).toBe("502 status code (no problem body)");
    expect(error.message).not.toContain("html");
  });

  test("requestId falls back to the X-Request-Id header", async () => {
    const error = await fromResponse(problem(404, { code: "not_found" }, { "x-request-id": "h-1" }));
    expect(error.requestId).toBe("h-1");
    expect(error.headers.get("x-request-id")).toBe("h-1");
  });
});
