import { Router, type RequestHandler } from "express";
import { toPullCheckDto, toPullCredentialsDto } from "../dto.js";
import { requireWorkspace } from "../http/authenticate.js";
import { workspaceOf } from "../http/request-context.js";
import type { PullService } from "../services/pulls.js";
import { pathId } from "./query.js";

/**
 * The pull routes. Mounted before the workspace-token gate, because pull credentials are for
 * `provisioner` tokens (which cannot use workspace routes): the pull service decides and audits
 * that access itself, refusals included. The pull check is a workspace route like any other and
 * carries the same gate on the route.
 */
export function pullRoutes(pulls: PullService, idempotent: () => RequestHandler): Router {
  const router = Router();

  router.post("/sandbox-images/:image_id/pull-check", requireWorkspace("workspace"), idempotent(), async (req, res) => {
    res.json(toPullCheckDto(await pulls.check(workspaceOf(req), pathId(req, "image_id"))));
  });

  // The only answer that carries a decrypted credential.
  router.post("/sandbox-images/:image_id/pull-credentials", async (req, res) => {
    // The validator has checked the header; authenticate() has set the principal.
    const credentials = await pulls.credentials(req.principal!, req.header("x-workspace-id")!, pathId(req, "image_id"));
    // Nothing between here and the provisioner may keep a copy.
    res.setHeader("Cache-Control", "no-store");
    res.json(toPullCredentialsDto(credentials));
  });

  return router;
}
