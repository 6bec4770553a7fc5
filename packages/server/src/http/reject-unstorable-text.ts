import type { RequestHandler } from "express";
import { DomainError } from "../errors.js";

/**
 * JSON can carry text PostgreSQL cannot store: NUL characters, and lone UTF-16 surrogates
 * (which PGlite refuses and PostgreSQL silently turns into U+FFFD). The schema cannot express
 * that, so this runs right after the OpenAPI validator and answers 422 naming the field, before
 * anything is encrypted or stored.
 */
export const rejectUnstorableText: RequestHandler = (req, _res, next) => {
  const errors = [...findUnstorable(req.body, "/body"), ...findUnstorable(req.query, "/query")];
  if (errors.length > 0) {
    return next(new DomainError("validation_failed", "The request contains text that cannot be stored.", { fieldErrors: errors }));
  }
  next();
};

function findUnstorable(value: unknown, path: string): Array<{ path: string; message: string }> {
  if (typeof value === "string") {
    return value.includes("\u0000") || !value.isWellFormed()
      ? [{ path, message: "must not contain NUL characters or unpaired UTF-16 surrogates" }]
      : [];
  }
  // An array too: its entries are its indexes and items.
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => findUnstorable(item, `${path}/${key}`));
  }
  return [];
}
