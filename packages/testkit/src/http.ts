/**
 * Raw HTTP helpers for the security suites: exact status, headers and body bytes, no SDK in
 * between: what the security suites send and check.
 */
import { expect } from "vitest";

export interface RawRequest {
  method: string;
  /** Path and query, e.g. `/registries?limit=1`. */
  path: string;
  /** `X-Workspace-Id`; omitted when undefined. */
  workspace?: string | undefined;
  /** Bearer token; omitted when undefined. Use `headers.authorization` for anything else. */
  token?: string | undefined;
  /** A JSON value, serialised with `JSON.stringify` and sent as `application/json`. */
  json?: unknown;
  /** Exact body bytes or text (sent as is; set `content-type` in `headers` yourself). */
  body?: string | Uint8Array<ArrayBuffer> | undefined;
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  statusText: string;
  /** Lower-cased header names, sorted (as fetch's Headers iterates them). */
  headers: Array<[string, string]>;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: unknown;
}

/** Sends one request with fetch (undici keeps connections alive) and reads the whole answer. */
export async function send(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (req.workspace !== undefined) headers["x-workspace-id"] = req.workspace;
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
  let body: string | Uint8Array<ArrayBuffer> | undefined = req.body;
  if (req.json !== undefined) {
    body = JSON.stringify(req.json);
    headers["content-type"] = "application/json";
  }
  Object.assign(headers, req.headers);
  const response = await fetch(baseUrl + req.path, { method: req.method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const responseHeaders: Array<[string, string]> = [];
  response.headers.forEach((value, name) => responseHeaders.push([name, value]));
  return { status: response.status, statusText: response.statusText, headers: responseHeaders, text, json };
}

export function header(res: RawResponse, name: string): string | undefined {
  return res.headers.find(([n]) => n === name.toLowerCase())?.[1];
}

export const PROBLEM_CONTENT_TYPE = /^application\/problem\+json(;\s*charset=utf-8)?$/i;

/**
 * Asserts an RFC 9457 problem answer: the status (exact, or any 4xx when `status` is "4xx"),
 * `application/problem+json`, the members every problem has, `status` equal to the HTTP status.
 * Returns the parsed problem.
 */
export function expectProblem(
  res: RawResponse,
  status: number | "4xx",
  code?: string,
  label = "",
): Record<string, unknown> {
  const where = `${label} → ${res.status} ${res.text.slice(0, 300)}`;
  if (status === "4xx") {
    expect(res.status, where).toBeGreaterThanOrEqual(400);
    expect(res.status, where).toBeLessThan(500);
  } else {
    expect(res.status, where).toBe(status);
  }
  expect(header(res, "content-type"), where).toMatch(PROBLEM_CONTENT_TYPE);
  const problem = res.json as Record<string, unknown>;
  expect(problem, where).toBeTypeOf("object");
  expect(problem, where).not.toBeNull();
  expect(problem.type, where).toBeTypeOf("string");
  expect(problem.title, where).toBeTypeOf("string");
  expect(problem.status, where).toBe(res.status);
  expect(problem.code, where).toBeTypeOf("string");
  expect(problem.request_id, where).toBeTypeOf("string");
  expect(problem.request_id, where).not.toBe("");
  expect(problem.request_id, where).toBe(header(res, "x-request-id"));
  expect(problem.type, where).toBe(`https://modbox.dev/problems/${String(problem.code)}`);
  if (code !== undefined) expect(problem.code, where).toBe(code);
  return problem;
}

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
