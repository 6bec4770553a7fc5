import { Router } from "express";
import { servePublic } from "../http/public-route.js";
import { PUBLIC_PATHS, type PublishedResources } from "../published/resources.js";

/** `/` (links to what follows and to the probes) and the contract, as YAML and as JSON. No token. */
export function metaRoutes(published: PublishedResources): Router {
  const router = Router();
  servePublic(router, PUBLIC_PATHS.index, published.index);
  servePublic(router, PUBLIC_PATHS.openapiYaml, published.openapiYaml);
  servePublic(router, PUBLIC_PATHS.openapiJson, published.openapiJson);
  return router;
}
