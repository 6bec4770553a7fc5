import type { components, Writable } from "@modbox/sdk/openapi";
import { Router, type RequestHandler } from "express";
import { toListDto, toSandboxImageDto } from "../dto.js";
import { ifMatchOf, isNotModified, sandboxImageTag } from "../http/entity-tags.js";
import { workspaceOf } from "../http/request-context.js";
import type { CreateSandboxImageInput, SandboxImageService } from "../services/sandbox-images.js";
import { listQuery, optionalBoolean, optionalString, pathId } from "./query.js";

type CreateBody = Writable<components["schemas"]["SandboxImageCreate"]>;
type UpdateBody = Writable<components["schemas"]["SandboxImageUpdate"]>;

/** `idempotent` (http/idempotency.ts) guards the create, so that a retried one does not create twice. */
export function sandboxImageRoutes(images: SandboxImageService, idempotent: () => RequestHandler): Router {
  const router = Router();

  router.post("/sandbox-images", idempotent(), async (req, res) => {
    const image = await images.create(workspaceOf(req), fromBody(req.body as CreateBody) as CreateSandboxImageInput);
    res.status(201).location(`/sandbox-images/${image.id}`).setHeader("ETag", sandboxImageTag(image));
    res.json(toSandboxImageDto(image));
  });

  router.get("/sandbox-images", async (req, res) => {
    const page = await images.list(workspaceOf(req), {
      ...listQuery(req),
      registryId: optionalString(req, "registry_id"),
      enabled: optionalBoolean(req, "enabled"),
    });
    res.json(toListDto(page, toSandboxImageDto));
  });

  router.get("/sandbox-images/:image_id", async (req, res) => {
    const image = await images.get(workspaceOf(req), pathId(req, "image_id"));
    const tag = sandboxImageTag(image);
    res.setHeader("ETag", tag);
    if (isNotModified(req, tag)) return void res.status(304).end();
    res.json(toSandboxImageDto(image));
  });

  router.put("/sandbox-images/:image_id", async (req, res) => {
    const image = await images.update(workspaceOf(req), pathId(req, "image_id"), fromBody(req.body as UpdateBody), {
      ifMatch: ifMatchOf(req),
    });
    res.setHeader("ETag", sandboxImageTag(image)).json(toSandboxImageDto(image));
  });

  router.delete("/sandbox-images/:image_id", async (req, res) => {
    await images.delete(workspaceOf(req), pathId(req, "image_id"), { ifMatch: ifMatchOf(req) });
    res.status(204).end();
  });

  return router;
}

/** snake_case body → the service's input; absent fields stay absent (partial updates). */
function fromBody(body: UpdateBody): Partial<CreateSandboxImageInput> {
  const input: Partial<CreateSandboxImageInput> = {};
  if (body.name !== undefined) input.name = body.name;
  if (body.image !== undefined) input.image = body.image;
  if (body.tag !== undefined) input.tag = body.tag;
  if (body.registry_id !== undefined) input.registryId = body.registry_id;
  if (body.description !== undefined) input.description = body.description;
  if (body.enabled !== undefined) input.enabled = body.enabled;
  if (body.is_default !== undefined) input.isDefault = body.is_default;
  if (body.memory_mb !== undefined) input.memoryMb = body.memory_mb;
  if (body.ttl_seconds !== undefined) input.ttlSeconds = body.ttl_seconds;
  if (body.readiness_port !== undefined) input.readinessPort = body.readiness_port;
  return input;
}
