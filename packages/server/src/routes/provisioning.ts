import { Router } from "express";
import { toPullCredentialsDto } from "../dto.js";
import { workspaceAccessDenial } from "../http/authenticate.js";
import type { PullService } from "../services/pulls.js";
import { pathId } from "./query.js";

/**
 * The provisioner's routes: the only answers that carry a decrypted credential. They need a
 * `provisioner`-scope token, which workspace tokens are not (and which cannot use workspace
 * routes). Refusals at the scope and workspace checks are audited like every other outcome.
 */
export function provisioningRoutes(pulls: PullService): Router {
  const router = Router();

  router.post("/sandbox-images/:image_id/pull-credentials", async (req, res) => {
    // The validator has checked the header; authenticate() has set the principal.
    const workspaceId = req.header("x-workspace-id")!;
    const imageId = pathId(req, "image_id");
    const tokenId = req.principal!.tokenId;
    const denial = workspaceAccessDenial(req.principal!, workspaceId, "provisioner");
    if (denial) {
      await pulls.recordRefusal(workspaceId, imageId, tokenId, denial.code);
      throw denial;
    }
    const credentials = await pulls.credentials(workspaceId, imageId, tokenId);
    // Nothing between here and the provisioner may keep a copy.
    res.setHeader("Cache-Control", "no-store");
    res.json(toPullCredentialsDto(credentials));
  });

  return router;
}
