import { DecryptionError } from "@modbox/crypto";
import type { ErrorRequestHandler, Request } from "express";
import { classifyDatabaseError } from "../db/errors.js";
import { DomainError } from "../errors.js";
import { DISK_FULL_DETAIL, DISK_FULL_RETRY_AFTER_SECONDS } from "./disk-guard.js";
import { allowWithHead } from "./head-as-get.js";
import type { ProblemInput } from "./problem.js";
import { sendProblem } from "./problem.js";
import { contractWords } from "./contract-words.js";
import { branchOf, entriesOfBranch } from "./body-branches.js";
import { explainProblems, normalisePath, validationDetail, type MessageContext } from "./validation-messages.js";

/**
 * Turns any error into a problem+json answer and hands pino-http a *safe* view of it to log.
 *
 * Two errors must never be logged or returned as they are: `express.json()` parse errors carry
 * the raw body (and quote it in their message), and `DrizzleQueryError.message` lists every
 * bound parameter, ciphertext included. Both are reduced to fixed texts and codes here.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) return next(err);
  const { problem, log } = toProblem(err, req);
  // pino-http logs `res.err`; give it only what is safe to keep.
  (res as { err?: unknown }).err = log;
  // RFC 9110: a 405 says which methods the route does allow.
  const allow = (err as { headers?: { Allow?: unknown } } | null)?.headers?.Allow;
  if (problem.code === "method_not_allowed" && typeof allow === "string") res.setHeader("Allow", allowWithHead(allow));
  sendProblem(req, res, problem);
};

interface Translation {
  problem: ProblemInput;
  log?: SafeLoggedError;
}

class SafeLoggedError extends Error {
  constructor(name: string, message: string, stack?: string, readonly sqlstate?: string) {
    super(message);
    this.name = name;
    this.stack = stack ?? `${name}: ${message}`;
  }
}

function toProblem(err: unknown, req: Request): Translation {
  if (err instanceof DomainError) {
    // An option left out is undefined here, which sendProblem reads as absent.
    return { problem: { code: err.code, detail: err.detail, errors: err.fieldErrors, extensions: err.extensions, status: err.status } };
  }
  const bodyParserProblem = fromBodyParser(err);
  if (bodyParserProblem) return { problem: bodyParserProblem };
  const validatorProblem = fromOpenApiValidator(err, req);
  if (validatorProblem) return validatorProblem;
  if (err instanceof DecryptionError) {
    return {
      problem: { code: "credential_undecryptable", detail: "The stored credential cannot be decrypted with the configured keys." },
      log: new SafeLoggedError("DecryptionError", `reason=${err.reason}`),
    };
  }
  const db = classifyDatabaseError(err);
  if (db.kind === "unavailable") {
    return {
      problem: { code: "service_unavailable", detail: "The database is unavailable; retry shortly.", retryAfter: 2 },
      log: new SafeLoggedError("DatabaseUnavailable", "database unavailable"),
    };
  }
  if (db.kind === "disk_full") {
    // Not the client's fault and nothing was written (the statement failed as a whole): retry later.
    return {
      problem: { code: "service_unavailable", detail: DISK_FULL_DETAIL, retryAfter: DISK_FULL_RETRY_AFTER_SECONDS },
      log: new SafeLoggedError("DatabaseDiskFull", "the database has no space left to write", undefined, db.sqlstate),
    };
  }
  if (db.kind === "insufficient_resources") {
    return {
      problem: { code: "service_unavailable", detail: "The database is short of memory or another resource; retry shortly.", retryAfter: 5 },
      log: new SafeLoggedError("DatabaseInsufficientResources", "the database is short of resources", undefined, db.sqlstate),
    };
  }
  if (db.kind !== "other" || db.sqlstate) {
    // A driver error: its message may list bound parameters. Keep the SQLSTATE only.
    return {
      problem: internalError(),
      log: new SafeLoggedError("DatabaseError", `database error kind=${db.kind}`, undefined, "sqlstate" in db ? db.sqlstate : undefined),
    };
  }
  if (isDrizzleQueryError(err)) {
    return { problem: internalError(), log: new SafeLoggedError("DatabaseError", "query failed") };
  }
  const e = err instanceof Error ? err : new Error("non-error thrown");
  return { problem: internalError(), log: new SafeLoggedError(e.name, e.message, e.stack) };
}

function internalError(): ProblemInput {
  return { code: "internal_error", detail: "An unexpected error occurred; the server log has the details under this request id." };
}

function isDrizzleQueryError(err: unknown): boolean {
  return err instanceof Error && (err.name === "DrizzleQueryError" || ("query" in err && "params" in err));
}

/** express.json() / raw-body errors, recognised by their `type`; the body is never read from them. */
function fromBodyParser(err: unknown): ProblemInput | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  switch (type) {
    case "entity.parse.failed":
      return { code: "malformed_request", detail: "The request body is not valid JSON." };
    case "entity.too.large":
      return { code: "payload_too_large", detail: "The request body is larger than this server accepts." };
    case "encoding.unsupported":
    case "charset.unsupported":
      return { code: "unsupported_media_type", detail: "The request body must be UTF-8 encoded JSON." };
    case "request.aborted":
    case "request.size.invalid":
    case "stream.encoding.set":
      return { code: "malformed_request", detail: "The request body could not be read." };
    default:
      return isDecompressionError(err)
        ? { code: "malformed_request", detail: "The request body does not decode as its Content-Encoding says." }
        : undefined;
  }
}

/**
 * A gzip, deflate or brotli body that does not decode: raw-body hands on node:zlib's own error,
 * with no `type`. Nothing else in the app decompresses, so a zlib code can only come from a body.
 */
function isDecompressionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("Z_") || code.startsWith("ERR__ERROR_"));
}

interface ValidatorError {
  status: unknown;
  errors: Array<{ path?: string; message?: string; errorCode?: string }>;
}

/**
 * express-openapi-validator errors: they carry `status` and `errors[]` with paths and rules. An
 * error with any other `status` (or none) is not one of them.
 */
function fromOpenApiValidator(err: unknown, req: Request): Translation | undefined {
  if (!(err instanceof Error) || !Array.isArray((err as Partial<ValidatorError>).errors)) return undefined;
  const { status, errors } = err as unknown as ValidatorError;
  switch (status) {
    case 400: {
      const explained = explainProblems(entriesFor(req, errors), messageContext(req));
      return {
        problem: { code: "validation_failed", detail: validationDetail(explained.errors, explained.total), errors: explained.errors },
      };
    }
    case 404:
      return { problem: { code: "not_found", detail: "No such route." } };
    case 405:
      return { problem: { code: "method_not_allowed", detail: "This method is not allowed on this route." } };
    case 413:
      return { problem: { code: "payload_too_large", detail: "The request body is larger than this server accepts." } };
    case 415:
      return { problem: { code: "unsupported_media_type", detail: "The request body must be application/json." } };
    case 500:
      // Response validation: our answer broke the contract. Never send it; log the rule that failed.
      return {
        problem: internalError(),
        log: new SafeLoggedError("ResponseValidationError", errors.map((e) => `${normalisePath(e.path)} ${e.message ?? "is invalid"}`).join("; ")),
      };
  }
  return undefined;
}

/** The route the validator matched, as the contract spells it; undefined when it matched none. */
function matchedRoute(req: Request): string | undefined {
  const route = (req as { openapi?: { openApiRoute?: unknown } }).openapi?.openApiRoute;
  return typeof route === "string" ? route : undefined;
}

/** The contract's words for this request's operation (the validator has matched its route). */
function messageContext(req: Request): MessageContext {
  const route = matchedRoute(req);
  const tagged = contractWords.taggedBody(req.method, route);
  // A body of several schemas: the names the one it picked allows.
  const branch = tagged ? branchOf(tagged, req.body) : undefined;
  return {
    patternWords: (pattern) => contractWords.patternWords(pattern),
    knownNames: (parent) => (parent === "/body" && branch ? branch.properties : contractWords.knownNames(req.method, route, parent)),
  };
}

/** The validator's entries, only those of the schema the body picked when the body has several (body-branches.ts). */
function entriesFor(req: Request, errors: ValidatorError["errors"]): ValidatorError["errors"] {
  const tagged = contractWords.taggedBody(req.method, matchedRoute(req));
  return tagged ? entriesOfBranch(errors, tagged, req.body) : errors;
}
