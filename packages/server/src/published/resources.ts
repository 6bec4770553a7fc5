/**
 * Everything the server publishes without a token besides its probes: the index at `/`, the
 * contract (YAML and JSON) and the API reference page with its script. Built once per process
 * from files that are part of the code, so each answer is a ready buffer with its tag.
 */
import { contentDigest, staticRepresentation, type StaticRepresentation } from "../http/static-representation.js";
import { API_REFERENCE_CSP, apiReferencePage, readRedocBundle } from "./api-reference.js";
import { readPublishedContract } from "./contract.js";

/** The public paths, as the contract lists them and the index links them. */
export const PUBLIC_PATHS = {
  index: "/",
  openapiYaml: "/openapi.yaml",
  openapiJson: "/openapi.json",
  docs: "/docs",
  health: "/healthz",
  readiness: "/readyz",
} as const;

/**
 * The same URL serves a new contract after an upgrade: caches may keep a copy but must ask
 * (`If-None-Match`, a 304 when it is still current).
 */
const REVALIDATE = "no-cache";
/** The script's path names its content, so a copy never goes stale. */
const IMMUTABLE = "public, max-age=31536000, immutable";

export interface PublishedResources {
  readonly index: StaticRepresentation;
  readonly openapiYaml: StaticRepresentation;
  readonly openapiJson: StaticRepresentation;
  readonly docsPage: StaticRepresentation;
  /** Redoc's bundle, at a path that changes with its bytes. */
  readonly docsScript: { readonly path: string; readonly representation: StaticRepresentation };
}

const built = new Map<string, PublishedResources>();

/** Reads the contract at `specPath` and Redoc's bundle once per process; throws if either is unusable. */
export function loadPublishedResources(specPath: string): PublishedResources {
  let resources = built.get(specPath);
  if (!resources) {
    resources = buildPublishedResources(specPath);
    built.set(specPath, resources);
  }
  return resources;
}

function buildPublishedResources(specPath: string): PublishedResources {
  const contract = readPublishedContract(specPath);
  const redoc = readRedocBundle();
  const scriptPath = `${PUBLIC_PATHS.docs}/assets/redoc-${redoc.version}.${contentDigest(redoc.bytes)}.js`;
  // Paths without a host: behind a proxy this server cannot know the name clients use.
  const index = {
    name: contract.title,
    version: contract.version,
    links: {
      docs: PUBLIC_PATHS.docs,
      openapi_json: PUBLIC_PATHS.openapiJson,
      openapi_yaml: PUBLIC_PATHS.openapiYaml,
      health: PUBLIC_PATHS.health,
      readiness: PUBLIC_PATHS.readiness,
    },
  };
  const json = "application/json; charset=utf-8";
  return {
    index: staticRepresentation(JSON.stringify(index), { contentType: json, cacheControl: REVALIDATE }),
    // RFC 9512's media type; it defines no charset parameter (YAML is read as UTF-8 here).
    openapiYaml: staticRepresentation(contract.yaml, { contentType: "application/yaml", cacheControl: REVALIDATE }),
    openapiJson: staticRepresentation(contract.json, { contentType: json, cacheControl: REVALIDATE }),
    docsPage: staticRepresentation(
      apiReferencePage({
        title: contract.title,
        version: contract.version,
        specUrl: PUBLIC_PATHS.openapiJson,
        yamlUrl: PUBLIC_PATHS.openapiYaml,
        scriptUrl: scriptPath,
      }),
      {
        contentType: "text/html; charset=utf-8",
        cacheControl: REVALIDATE,
        headers: { "Content-Security-Policy": API_REFERENCE_CSP, "Referrer-Policy": "no-referrer" },
      },
    ),
    docsScript: {
      path: scriptPath,
      representation: staticRepresentation(redoc.bytes, { contentType: "text/javascript; charset=utf-8", cacheControl: IMMUTABLE }),
    },
  };
}
