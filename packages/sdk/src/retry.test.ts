import { describe, expect, test } from "vitest";
import {
  BASE_DELAY_MS,
  MAX_DELAY_MS,
  MAX_RETRY_AFTER_MS,
  backoffDelay,
  isRetryableRequest,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
} from "./retry.js";

describe("which requests are retried", () => {
  const none = new Headers();
  const keyed = new Headers({ "Idempotency-Key": "k-1" });

  test.each(["GET", "HEAD", "PUT", "DELETE", "get"])("%s is retryable", (method) => {
    expect(isRetryableRequest(method, none)).toBe(true);
  });

  test.each(["POST", "PATCH"])("%s without an Idempotency-Key is not", (method) => {
    expect(isRetryableRequest(method, none)).toBe(false);
  });

  test.each(["POST", "post", "PATCH"])("%s with an Idempotency-Key is", (method) => {
    expect(isRetryableRequest(method, keyed)).toBe(true);
  });

  test.each([408, 429, 500, 502, 503, 504])("status %i is retryable", (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  test.each([400, 401, 403, 404, 409, 412, 413, 422])("status %i is not", (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });

  test("409 is retryable for idempotency_in_progress only", () => {
    expect(isRetryableStatus(409, "idempotency_in_progress")).toBe(true);
    for (const code of ["registry_name_taken", "concurrent_modification", "registry_disabled", undefined]) {
      expect(isRetryableStatus(409, code)).toBe(false);
    }
  });

  test("the code does not make other statuses retryable", () => {
    expect(isRetryableStatus(412, "idempotency_in_progress")).toBe(false);
    expect(isRetryableStatus(422, "idempotency_in_progress")).toBe(false);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");

  test("reads delay-seconds", () => {
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });

  test("reads an HTTP date", () => {
    expect(parseRetryAfter("Sat, 28 Nov 2026 12:00:05 GMT", now)).toBe(5000);
  });

  test("a date in the past means now", () => {
    expect(parseRetryAfter("Sat, 28 Nov 2026 11:00:00 GMT", now)).toBe(0);
  });

  test("is capped", () => {
    expect(parseRetryAfter("86400", now)).toBe(MAX_RETRY_AFTER_MS);
  });

  test.each([null, "", "soon", "-1", "1.5", "Sun, 99 Foo 2026"])("ignores %o", (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe("backoff", () => {
  test("is full jitter under an exponential ceiling", () => {
    expect(backoffDelay(0, () => 0)).toBe(0);
    expect(backoffDelay(0, () => 0.999)).toBeLessThan(BASE_DELAY_MS);
    expect(backoffDelay(1, () => 0.5)).toBe(BASE_DELAY_MS);
    expect(backoffDelay(2, () => 0.5)).toBe(2 * BASE_DELAY_MS);
  });

  test("is capped", () => {
    expect(backoffDelay(30, () => 0.999)).toBeLessThan(MAX_DELAY_MS);
    expect(backoffDelay(30, () => 0.5)).toBe(MAX_DELAY_MS / 2);
  });

  test("Retry-After wins over backoff", () => {
    expect(retryDelay(0, "7", () => 0.5)).toBe(7000);
    expect(retryDelay(1, null, () => 0.5)).toBe(BASE_DELAY_MS);
    expect(retryDelay(1, "garbage", () => 0.5)).toBe(BASE_DELAY_MS);
  });
});
