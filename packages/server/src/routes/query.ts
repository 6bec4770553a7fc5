import type { Request } from "express";
import { DomainError } from "../errors.js";
import { validationDetail } from "../http/validation-messages.js";

/**
 * Typed access to query parameters the OpenAPI validator has already checked and coerced
 * (`limit` is a number with its default applied, booleans are booleans).
 */
export function listQuery(req: Request): { limit: number; cursor?: string } {
  const q = req.query as Record<string, unknown>;
  const limit = typeof q.limit === "number" ? q.limit : Number(q.limit ?? 50);
  // The validator's coercion turns "Infinity", "-Infinity" and "1e400" into an infinite number
  // and lets it past the bounds of the contract (an ajv quirk): refuse it as the validator would.
  if (!Number.isFinite(limit)) {
    const fieldErrors = [{ path: "/query/limit", message: "must be a finite integer" }];
    throw new DomainError("validation_failed", validationDetail(fieldErrors), { fieldErrors });
  }
  return { limit, cursor: q.cursor as string | undefined };
}

export function optionalBoolean(req: Request, name: string): boolean | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  return value === true || value === "true";
}

export function optionalString(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}

/** Path parameters are validated as UUIDs before any handler runs. */
export function pathId(req: Request, name: string): string {
  return String(req.params[name]);
}
