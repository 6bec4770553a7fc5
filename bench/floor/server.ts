/**
 * The FRAMEWORK FLOOR: what a request costs before any of our code runs. One fixed answer (a
 * registry as `GET /registries/{id}` returns it), no database, no authentication, no crypto,
 * served three ways so the report can say how much of the gap to the baseline the framework
 * alone accounts for:
 *
 *   FLOOR_VARIANT=node-http          bare node:http (what the baseline is built on)
 *   FLOOR_VARIANT=express            Express 5, one route, `res.json` (etag and x-powered-by off, as ours)
 *   FLOOR_VARIANT=express-validated  the same plus express.json() and express-openapi-validator on
 *                                    openapi.yaml with the options of packages/server/src/app.ts
 *
 * Env: PORT (listens on 127.0.0.1 only), FLOOR_VARIANT. `GET /readyz` answers 200 for the harness.
 */
import { createServer } from "node:http";
import express from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { OPENAPI_SPEC_PATH } from "../../packages/server/src/app.js";

const variant = process.env.FLOOR_VARIANT ?? "node-http";
const port = Number(process.env.PORT ?? 0);

const registry = {
  id: "0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70",
  name: "GitHub Container Registry",
  server: "ghcr.io",
  provider: "ghcr",
  username: "octocat",
  email: null,
  enabled: true,
  ca_certificate: null,
  warnings: [],
  verification: { status: "unverified", checked_at: null, error_code: null },
  last_used_at: null,
  created_at: "2026-11-28T12:00:00.000Z",
  updated_at: "2026-11-28T12:00:00.000Z",
};

function expressApp(validated: boolean): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/readyz", (_req, res) => {
    res.json({ status: "ready" });
  });
  if (validated) {
    app.use(express.json({ limit: 65_536, type: ["application/json", "application/*+json"] }));
    app.use(
      OpenApiValidator.middleware({
        apiSpec: OPENAPI_SPEC_PATH,
        validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, allErrors: false },
        validateResponses: false,
        validateSecurity: false,
        validateFormats: true,
        ignoreUndocumented: false,
      }),
    );
  }
  app.get("/registries/:registry_id", (_req, res) => {
    res.json(registry);
  });
  app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ status: err.status ?? 500 });
  });
  return app;
}

const server =
  variant === "node-http"
    ? createServer((req, res) => {
        const body = JSON.stringify(req.url === "/readyz" ? { status: "ready" } : registry);
        res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
        res.end(body);
      })
    : variant === "express" || variant === "express-validated"
      ? createServer(expressApp(variant === "express-validated"))
      : null;
if (!server) throw new Error(`FLOOR_VARIANT must be node-http, express or express-validated, not ${variant}`);
server.listen(port, "127.0.0.1");
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => server.close(() => process.exit(0)));
