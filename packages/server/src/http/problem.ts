import type { Request, Response } from "express";
import type { ProblemCode } from "../errors.js";
import { PROBLEM_TYPE_BASE, problemTable } from "./problem-table.js";

export interface ProblemInput {
  code: ProblemCode;
  detail: string;
  errors?: ReadonlyArray<{ path: string; message: string }>;
  /** Seconds, for 429 and 503. */
  retryAfter?: number;
  /** RFC 9457 extension members. */
  extensions?: Readonly<Record<string, unknown>>;
  /** Overrides the table's status where one code means different things in two places. */
  status?: number;
}

/** Writes an RFC 9457 problem+json response. The one place error bodies are shaped. */
export function sendProblem(req: Request, res: Response, problem: ProblemInput): void {
  const { title } = problemTable[problem.code];
  const status = problem.status ?? problemTable[problem.code].status;
  if (problem.retryAfter !== undefined) res.setHeader("Retry-After", String(problem.retryAfter));
  if (status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="modbox"');
  res
    .status(status)
    .type("application/problem+json")
    .send(
      JSON.stringify({
        type: PROBLEM_TYPE_BASE + problem.code,
        title,
        status,
        detail: problem.detail,
        instance: req.originalUrl.split("?")[0],
        code: problem.code,
        // Set by requestIdFor() before any handler runs (see logging.ts).
        request_id: String(res.getHeader("X-Request-Id") ?? ""),
        ...problem.extensions,
        ...(problem.errors && problem.errors.length > 0 ? { errors: problem.errors } : {}),
      }),
    );
}
