import type { components, Writable } from "@modbox/sdk/openapi";
import { Router, type RequestHandler } from "express";
import { toListDto, toTokenCreatedDto, toTokenDto } from "../dto.js";
import { DomainError } from "../errors.js";
import { validationDetail } from "../http/validation-messages.js";
import { tokenNotFound, type ApiTokenService } from "../services/api-tokens.js";
import { listQuery, optionalBoolean, pathId } from "./query.js";

type CreateBody = Writable<components["schemas"]["TokenCreate"]>;

/**
 * `/tokens`: API tokens, for admin tokens (`requireAdmin` runs first on every route). Not scoped
 * to a workspace: `X-Workspace-Id` is not read. Thin, as the other routes: request → service →
 * DTO, bodies and params validated against openapi.yaml before.
 */
export function tokenRoutes(tokens: ApiTokenService, requireAdmin: RequestHandler): Router {
  const router = Router();

  router.post("/tokens", requireAdmin, refuseIdempotencyKey, async (req, res) => {
    const body = req.body as CreateBody;
    const created = await tokens.create({
      name: body.name,
      scope: body.scope,
      workspaceIds: grantOf(body),
      createdBy: req.principal!.tokenId,
    });
    // The answer holds the token: no cache along the way may keep it.
    res.status(201).location(`/tokens/${created.record.id}`).setHeader("Cache-Control", "no-store");
    res.json(toTokenCreatedDto(created));
  });

  router.get("/tokens", requireAdmin, async (req, res) => {
    const page = await tokens.page({ ...listQuery(req), revoked: optionalBoolean(req, "revoked") });
    res.json(toListDto(page, toTokenDto));
  });

  router.get("/tokens/:token_id", requireAdmin, async (req, res) => {
    res.json(toTokenDto(await tokens.get(pathId(req, "token_id"))));
  });

  // Revoked (or already revoked: a retry is harmless) → 204. The service tells this process's
  // token cache at once; the database's NOTIFY tells every other server.
  router.delete("/tokens/:token_id", requireAdmin, async (req, res) => {
    if ((await tokens.revoke(pathId(req, "token_id"))) === "not_found") throw tokenNotFound();
    res.status(204).end();
  });

  return router;
}

/**
 * `Idempotency-Key` is refused on `POST /tokens` rather than ignored: a replay would have to
 * answer the token again, and the token is never stored. A client that sends one believes a
 * retry is safe; it is told it is not, before anything is created.
 */
const refuseIdempotencyKey: RequestHandler = (req, _res, next) => {
  if (req.header("idempotency-key") === undefined) return next();
  const fieldErrors = [
    {
      path: "/headers/idempotency-key",
      message: "is not accepted here: the answer is the token, which is never stored, so it cannot be replayed",
    },
  ];
  next(new DomainError("validation_failed", validationDetail(fieldErrors), { fieldErrors }));
};

/** The grant of a create body: exactly one of `workspaces` and `all_workspaces: true`. */
function grantOf(body: CreateBody): string[] | null {
  const hasList = body.workspaces !== undefined;
  const hasAll = body.all_workspaces === true;
  if (hasList === hasAll) {
    const fieldErrors = hasList
      ? [{ path: "/body/all_workspaces", message: "must be left out when workspaces is sent (send one of workspaces and all_workspaces)" }]
      : [{ path: "/body/workspaces", message: "is required, or all_workspaces: true" }];
    throw new DomainError("validation_failed", validationDetail(fieldErrors), { fieldErrors });
  }
  return hasAll ? null : body.workspaces!;
}
