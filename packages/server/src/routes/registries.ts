import type { components, Writable } from "@modbox/sdk/openapi";
import { Router, type RequestHandler } from "express";
import { toListDto, toRegistryDto, toVerificationDto } from "../dto.js";
import { ifMatchOf, isNotModified, registryTag } from "../http/entity-tags.js";
import type { FusedWrite } from "../http/idempotency.js";
import { workspaceOf } from "../http/request-context.js";
import type { RegistryService } from "../services/registries.js";
import { listQuery, optionalBoolean, optionalString, pathId } from "./query.js";

type CreateBody = Writable<components["schemas"]["RegistryCreate"]>;
type UpdateBody = Writable<components["schemas"]["RegistryUpdate"]>;

/** Thin: request → service → DTO. Bodies and params were validated against openapi.yaml. */
/**
 * `idempotent` (http/idempotency.ts) guards the POSTs that create or act, so that a retried
 * one does not create or act twice.
 */
export function registryRoutes(registries: RegistryService, idempotent: (fused?: FusedWrite) => RequestHandler): Router {
  const router = Router();

  /**
   * A keyed create writes the registry and the key's answer in one statement (see
   * `insertClaimingKey`): the key then costs no extra round trip. `?verify=true` takes the
   * general path: its login must not run twice for two concurrent retries.
   */
  const createClaimingKey: FusedWrite = async (req, scope, claim) => {
    if (optionalBoolean(req, "verify")) return "not_applicable";
    const created = await registries.createClaimingKey(workspaceOf(req), req.body as CreateBody, {
      scope,
      claim,
      answerOf: (registry) => ({
        status: 201,
        headers: {
          "content-type": "application/json; charset=utf-8",
          etag: registryTag(registry),
          location: `/registries/${registry.id}`,
        },
        body: JSON.stringify(toRegistryDto(registry)),
      }),
    });
    return created?.answer ?? "key_exists";
  };

  router.post("/registries", idempotent(createClaimingKey), async (req, res) => {
    const registry = await registries.create(workspaceOf(req), req.body as CreateBody, {
      verify: optionalBoolean(req, "verify"),
    });
    res.status(201).location(`/registries/${registry.id}`).setHeader("ETag", registryTag(registry));
    res.json(toRegistryDto(registry));
  });

  router.get("/registries", async (req, res) => {
    const page = await registries.list(workspaceOf(req), {
      ...listQuery(req),
      enabled: optionalBoolean(req, "enabled"),
      server: optionalString(req, "server"),
    });
    res.json(toListDto(page, toRegistryDto));
  });

  router.get("/registries/:registry_id", async (req, res) => {
    const registry = await registries.get(workspaceOf(req), pathId(req, "registry_id"));
    const tag = registryTag(registry);
    res.setHeader("ETag", tag);
    if (isNotModified(req, tag)) return void res.status(304).end();
    res.json(toRegistryDto(registry));
  });

  router.put("/registries/:registry_id", async (req, res) => {
    const registry = await registries.update(workspaceOf(req), pathId(req, "registry_id"), req.body as UpdateBody, {
      verify: optionalBoolean(req, "verify"),
      ifMatch: ifMatchOf(req),
    });
    res.setHeader("ETag", registryTag(registry)).json(toRegistryDto(registry));
  });

  router.post("/registries/:registry_id/verify", idempotent(), async (req, res) => {
    res.json(toVerificationDto(await registries.verify(workspaceOf(req), pathId(req, "registry_id"))));
  });

  router.delete("/registries/:registry_id", async (req, res) => {
    await registries.delete(workspaceOf(req), pathId(req, "registry_id"), {
      force: optionalBoolean(req, "force"),
      ifMatch: ifMatchOf(req),
    });
    res.status(204).end();
  });

  return router;
}
