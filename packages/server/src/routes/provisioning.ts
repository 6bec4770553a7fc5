import { Router } from "express";
import { toPullCredentialsDto } from "../dto.js";
import { requireWorkspace } from "../http/authenticate.js";
import { workspaceOf } from "../http/request-context.js";
import type { PullService } from "../services/pulls.js";
import { pathId } from "./query.js";

/**
 * The provisioner's routes: the only answers that carry a decrypted credential. They need a
 * `provisioner`-scope token, which workspace tokens are not (and which cannot use workspace routes).
 */
export function provisioningRoutes(pulls: PullService): Router {
  const router = Router();

  router.post("/sandbox-images/:image_id/pull-credentials", requireWorkspace("provisioner"), async (req, res) => {
    const credentials = await pulls.credentials(workspaceOf(req), pathId(req, "image_id"), req.principal!.tokenId);
    // Nothing between here and the provisioner may keep a copy.
    res.setHeader("Cache-Control", "no-store");
    res.json(toPullCredentialsDto(credentials));
  });

  return router;
}
