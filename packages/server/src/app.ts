import express from "express";
import * as OpenApiValidator from "express-openapi-validator";
import type { Logger } from "pino";
import type { Authenticator } from "./auth/authenticator.js";
import { OPENAPI_SPEC_PATH } from "./contract-file.js";
import type { FreeSpaceMonitor } from "./db/free-space.js";
import { authenticate, requireScope, requireWorkspace } from "./http/authenticate.js";
import { refuseWritesWhenDiskLow } from "./http/disk-guard.js";
import { errorHandler } from "./http/error-handler.js";
import { idempotent, type FusedWrite } from "./http/idempotency.js";
import { presentHeadAsGet, restoreHead } from "./http/head-as-get.js";
import { rateLimit } from "./http/rate-limit.js";
import { requestLogging } from "./http/request-logging.js";
import { rejectUnstorableText } from "./http/reject-unstorable-text.js";
import type { PublishedResources } from "./published/resources.js";
import { docsRoutes } from "./routes/docs.js";
import { healthRoutes, type Readiness } from "./routes/health.js";
import { metaRoutes } from "./routes/meta.js";
import { pullRoutes } from "./routes/pulls.js";
import { registryRoutes } from "./routes/registries.js";
import { sandboxImageRoutes } from "./routes/sandbox-images.js";
import { tokenRoutes } from "./routes/tokens.js";
import type { ApiTokenService } from "./services/api-tokens.js";
import type { IdempotencyService } from "./services/idempotency.js";
import type { PullService } from "./services/pulls.js";
import type { RegistryService } from "./services/registries.js";
import type { SandboxImageService } from "./services/sandbox-images.js";

/** The contract every request (and, when enabled, every response) is checked against. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export { OPENAPI_SPEC_PATH };

export interface AppDeps {
  logger: Logger;
  authenticate: Authenticator;
  registries: RegistryService;
  sandboxImages: SandboxImageService;
  pulls: PullService;
  /** API tokens (`/tokens`, admin only); revocations also reach `authenticate` at once. */
  tokens: ApiTokenService;
  /** `Idempotency-Key`s of the POSTs that create or act. */
  idempotency: IdempotencyService;
  readiness: Readiness;
  /** The index, the contract and the API reference page, read once at start (loadPublishedResources). */
  published: PublishedResources;
  /** Embedded database: writes are refused while its disk is nearly full (absent: no guard). */
  freeSpace?: FreeSpaceMonitor;
  /** Times every request (metrics/http-metrics.ts); absent when metrics are off. */
  httpMetrics?: express.RequestHandler;
  options: {
    validateResponses: boolean;
    bodyLimitBytes: number;
    /** Per token; 0 turns it off. */
    rateLimitPerMinute: number;
    /** Express's `trust proxy`: where `req.ip` (the failed-authentication limit's key) comes from. */
    trustProxy?: boolean | number | string;
  };
}

/**
 * body-parser decodes UTF-16 and treats an empty JSON body as `{}`; the contract wants UTF-8
 * (415 otherwise) and an empty body is not JSON (400). The thrown `type`s are the ones the
 * error handler already maps.
 */
function requireUtf8NonEmptyBody(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding.toLowerCase() !== "utf-8") throw Object.assign(new Error("unsupported charset"), { type: "charset.unsupported" });
  if (body.length === 0) throw Object.assign(new Error("empty body"), { type: "entity.parse.failed" });
}

/** Builds the HTTP application from its dependencies. No environment, no sockets, no I/O. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", deps.options.trustProxy ?? false);

  if (deps.httpMetrics) app.use(deps.httpMetrics);
  app.use(requestLogging(deps.logger));
  // Public: the probes, the index, the contract and its reference page answer without a token.
  app.use(healthRoutes(deps.readiness));
  app.use(metaRoutes(deps.published));
  app.use(docsRoutes(deps.published));

  app.use(authenticate(deps.authenticate));
  app.use(rateLimit(deps.options.rateLimitPerMinute));
  // /tokens is for admin tokens: any other is refused before its body is read or validated.
  app.use("/tokens", requireScope("admin"));
  if (deps.freeSpace) app.use(refuseWritesWhenDiskLow(deps.freeSpace));
  app.use(
    express.json({
      limit: deps.options.bodyLimitBytes,
      type: ["application/json", "application/*+json"],
      verify: requireUtf8NonEmptyBody,
    }),
  );
  app.use(presentHeadAsGet);
  app.use(
    OpenApiValidator.middleware({
      apiSpec: OPENAPI_SPEC_PATH,
      // Every problem of a request, not just the first (the error handler lists at most 20). A
      // valid request costs the same (ajv runs the same checks); an invalid one costs more the
      // more problems it has, at most one per property of a body the size limit bounds (64 KiB of
      // unknown fields, ~7,400 problems: about 4 ms more). No pattern or format of the contract is
      // slow on a long string, so running them past a failed maxLength is cheap.
      validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, allErrors: true },
      validateResponses: deps.options.validateResponses ? { removeAdditional: false } : false,
      // Authentication is ours (hashed tokens, workspace grants), done before the body is read.
      validateSecurity: false,
      validateFormats: true,
      // The contract's `uuid` is the hex-and-dashes form. ajv-formats also accepts it prefixed
      // with `urn:uuid:`, which PostgreSQL cannot parse (a 500 on a path id, not a 422).
      formats: { uuid: { type: "string", validate: (value: string) => CANONICAL_UUID.test(value) } },
      ignoreUndocumented: false,
    }),
  );
  app.use(restoreHead);
  app.use(rejectUnstorableText);

  // Pull credentials are for provisioner tokens (the pull service checks and audits that);
  // everything after the token routes needs a workspace (or admin) token.
  const idempotentPost = (fused?: FusedWrite) => idempotent(deps.idempotency, deps.logger, fused);
  app.use(pullRoutes(deps.pulls, idempotentPost));
  // Tokens are not workspace objects: admin tokens (checked above, and again by each route), no
  // X-Workspace-Id.
  app.use(tokenRoutes(deps.tokens, requireScope("admin")));
  app.use(requireWorkspace("workspace"));
  app.use(registryRoutes(deps.registries, idempotentPost));
  app.use(sandboxImageRoutes(deps.sandboxImages, idempotentPost));

  app.use(errorHandler);
  return app;
}
