// Test doubles for the transport: an injected fetch that answers from a script and records what
// it was sent. Excluded from the published build (tsconfig.build.json).
import { vi } from "vitest";
import type { Problem, Registry } from "../types.js";

type Answer = Response | Error | ((request: Request) => Response | Promise<Response>);

/** A fetch that answers each call with the next scripted answer (the last one repeats). */
export function scriptedFetch(...answers: Answer[]) {
  const requests: Request[] = [];
  const fetch = vi.fn(async (request: Request): Promise<Response> => {
    requests.push(request);
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    if (answer === undefined) throw new Error("scriptedFetch: no answer scripted");
    if (answer instanceof Error) throw answer;
    return typeof answer === "function" ? answer(request) : answer.clone();
  });
  return { fetch, requests };
}

/** A fetch that never answers, until the request's signal aborts. */
export function hangingFetch() {
  return vi.fn(
    (request: Request) =>
      new Promise<Response>((_resolve, reject) => {
        const { signal } = request;
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  );
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function problem(
  status: number,
  fields: Partial<Problem> = {},
  headers: Record<string, string> = {},
): Response {
  const body: Problem = {
    type: `https://modbox.dev/problems/${fields.code ?? "internal_error"}`,
    title: "Error",
    status,
    code: "internal_error",
    ...fields,
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

export function registry(overrides: Partial<Registry> = {}): Registry {
  return {
    id: "0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70",
    name: "GitHub Container Registry",
    server: "ghcr.io",
    username: "octocat",
    email: null,
    enabled: true,
    auth_type: "basic",
    provider: "ghcr",
    ca_certificate: null,
    verification: { status: "unverified", checked_at: null, error_code: null, detail: null },
    warnings: [],
    last_used_at: null,
    created_at: "2026-11-28T12:00:00.000Z",
    updated_at: "2026-11-28T12:00:00.000Z",
    ...overrides,
  };
}
