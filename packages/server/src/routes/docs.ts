import { Router } from "express";
import { servePublic } from "../http/public-route.js";
import { PUBLIC_PATHS, type PublishedResources } from "../published/resources.js";

/** The API reference page and its script (see published/api-reference.ts). No token. */
export function docsRoutes(published: PublishedResources): Router {
  const router = Router();
  servePublic(router, PUBLIC_PATHS.docs, published.docsPage);
  servePublic(router, published.docsScript.path, published.docsScript.representation);
  return router;
}
