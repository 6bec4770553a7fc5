/**
 * Registry HTTP API v2 client for the two outbound questions the product asks:
 * "do these credentials log in?" (`verifyLogin`) and "can they pull this image?" (`checkPull`).
 *
 * Both follow wire-formats.md. Credentials go only to the endpoint host and to an https Bearer
 * realm that passed the same address checks; never over http (unless the operator listed the
 * host in `MODBOX_INSECURE_REGISTRIES` and the registry's server says `http://`), never to a
 * redirect target on another host. Results carry a stable code and a safe `detail` (never the password, a token or
 * a response body; at most the registry's `errors[].code`, like `UNAUTHORIZED`).
 *
 * Status decisions beyond wire-formats.md:
 * - `/v2/` answering 5xx or 429 is `registry_error` (a registry is there but failing; retry
 *   later); any other status besides 200/401 (404, 400, a redirect loop's end…) is
 *   `registry_unreachable`: no registry API v2 answers at that address.
 * - After authenticating, 5xx/429 is `registry_error`; every other non-200 is
 *   `invalid_credentials`.
 * - A Bearer realm on http is `insecure_realm` (unless its host is listed as insecure); an http
 *   registry whose host is no longer listed is `address_not_allowed`, before anything is sent; a missing or unparsable realm, a token answer
 *   that is not JSON, has no token or is too large is `registry_error`.
 */
import { createHash } from "node:crypto";
import { headerValue, type OutboundResponse } from "./http.js";
import {
  StepFailure,
  authorize,
  call,
  challengeOf,
  describeStatus,
  isServerTrouble,
  openSession,
  ping,
  registryUrl,
  type Session,
} from "./session.js";
import type {
  OutboundOptions,
  PullCheckResult,
  RegistryCredentials,
  RegistryEndpoint,
  VerifyResult,
} from "./types.js";

/** OCI index, OCI manifest, Docker manifest list, Docker manifest v2. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/**
 * Proves that `credentials` log in to the registry at `endpoint.host`.
 *
 * @returns `verified`; `unverified` (`anonymous_registry`) when `/v2/` answers 200 without
 *   credentials (nothing can be proven); or `failed` with a `VerificationErrorCode`.
 * @throws TypeError only for a malformed `endpoint.host` (a caller bug).
 * @example
 * await verifyLogin({ host: "ghcr.io" }, { username: "octocat", password: pat }, { allowPrivate: false })
 * // { status: "verified" }
 */
export async function verifyLogin(
  endpoint: RegistryEndpoint,
  credentials: RegistryCredentials,
  options: OutboundOptions,
): Promise<VerifyResult> {
  const session = openSession(endpoint, options);
  try {
    const challenge = await ping(session);
    if (challenge === null) return { status: "unverified", reason: "anonymous_registry" };
    const authorization = await authorize(session, challenge, credentials, challenge.scopes);
    const response = await call(session, "registry", {
      url: registryUrl(session, "/v2/"),
      method: "GET",
      headers: { authorization },
    });
    if (response.status === 200) return { status: "verified" };
    if (isServerTrouble(response.status)) {
      return failed("registry_error", `${session.host}: GET /v2/ answered ${describeStatus(response)}`);
    }
    return failed(
      "invalid_credentials",
      `${session.host}: the registry refused the credentials (GET /v2/ answered ${describeStatus(response)})`,
    );
  } catch (err) {
    if (!(err instanceof StepFailure)) throw err;
    return failed(err.code === "auth_rejected" ? "invalid_credentials" : err.code, err.detail);
  }
}

/**
 * Checks that `repository:reference` can be pulled, anonymously (`credentials` null) or with
 * credentials: the `/v2/` challenge, a token for `repository:<repository>:pull` (Bearer) or the
 * Basic header, then `HEAD /v2/<repository>/manifests/<reference>`. Without a
 * `Docker-Content-Digest` header, the manifest is fetched (bounded) and hashed.
 *
 * @param repository a parsed repository path, e.g. `library/ubuntu` (no host)
 * @param reference a tag (`v1`) or a digest (`sha256:<64 hex>`)
 * @throws TypeError for a malformed host, repository or reference (callers pass parsed values).
 * @example
 * await checkPull({ host: "registry-1.docker.io" }, "library/alpine", "3.20", null, { allowPrivate: false })
 * // { ok: true, digest: "sha256:…", mediaType: "application/vnd.oci.image.index.v1+json" }
 */
export async function checkPull(
  endpoint: RegistryEndpoint,
  repository: string,
  reference: string,
  credentials: RegistryCredentials | null,
  options: OutboundOptions,
): Promise<PullCheckResult> {
  assertRepository(repository);
  assertReference(reference);
  const session = openSession(endpoint, options);
  const scopes = [`repository:${repository}:pull`];
  const image = reference.includes(":") ? `${repository}@${reference}` : `${repository}:${reference}`;
  try {
    const challenge = await ping(session);
    let authorization = challenge === null ? undefined : await authorize(session, challenge, credentials, scopes);
    let response = await fetchManifest(session, repository, reference, "HEAD", authorization);
    if (response.status === 401 && authorization === undefined) {
      // `/v2/` was open but this repository is not: answer the manifest's own challenge once.
      authorization = await authorize(session, challengeOf(session, response), credentials, scopes);
      response = await fetchManifest(session, repository, reference, "HEAD", authorization);
    }
    return await manifestResult(session, { repository, reference, image, authorization }, response);
  } catch (err) {
    if (!(err instanceof StepFailure)) throw err;
    return { ok: false, code: err.code === "auth_rejected" ? "registry_auth_failed" : err.code, detail: err.detail };
  }
}

interface ManifestTarget {
  repository: string;
  reference: string;
  image: string;
  authorization: string | undefined;
}

async function manifestResult(
  session: Session,
  target: ManifestTarget,
  response: OutboundResponse,
): Promise<PullCheckResult> {
  if (response.status !== 200) return manifestFailure(session, target, response);

  const mediaType = parseMediaType(headerValue(response, "content-type"));
  const digest = headerValue(response, "docker-content-digest")?.match(DIGEST)?.[0];
  if (digest !== undefined) {
    assertSameDigest(session, target, digest);
    return { ok: true, digest, mediaType };
  }

  // No (usable) digest header: fetch the manifest, bounded, and hash what was served.
  const full = await fetchManifest(session, target.repository, target.reference, "GET", target.authorization);
  if (full.status !== 200) return manifestFailure(session, target, full);
  const algorithm = target.reference.startsWith("sha512:") ? "sha512" : "sha256";
  const computed = `${algorithm}:${createHash(algorithm).update(full.body).digest("hex")}`;
  assertSameDigest(session, target, computed);
  return { ok: true, digest: computed, mediaType: parseMediaType(headerValue(full, "content-type")) ?? mediaType };
}

function manifestFailure(session: Session, target: ManifestTarget, response: OutboundResponse): PullCheckFailure {
  const status = describeStatus(response);
  const bearer = target.authorization?.startsWith("Bearer ") === true;
  if (response.status === 404) {
    return { ok: false, code: "image_not_found", detail: `${session.host}: ${target.image} was not found` };
  }
  // ECR Public answers 400, not 401, for an expired bearer token.
  if (response.status === 401 || response.status === 403 || (response.status === 400 && bearer)) {
    return { ok: false, code: "registry_auth_failed", detail: `${session.host}: pulling ${target.image} was refused (${status})` };
  }
  return { ok: false, code: "registry_error", detail: `${session.host}: the manifest of ${target.image} answered ${status}` };
}

type PullCheckFailure = Extract<PullCheckResult, { ok: false }>;

function assertSameDigest(session: Session, target: ManifestTarget, digest: string): void {
  if (DIGEST.test(target.reference) && digest !== target.reference) {
    throw new StepFailure("registry_error", `${session.host}: the registry served ${target.image} under another digest`);
  }
}

function fetchManifest(
  session: Session,
  repository: string,
  reference: string,
  method: "GET" | "HEAD",
  authorization: string | undefined,
): Promise<OutboundResponse> {
  const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
  if (authorization !== undefined) headers.authorization = authorization;
  const url = registryUrl(session, `/v2/${repository}/manifests/${reference}`);
  return call(session, "registry", { url, method, headers });
}

function failed(code: Extract<VerifyResult, { status: "failed" }>["code"], detail: string): VerifyResult {
  return { status: "failed", code, detail };
}

function parseMediaType(contentType: string | undefined): string | null {
  if (contentType === undefined) return null;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return /^[a-z0-9][\w.+-]*\/[a-z0-9][\w.+-]*$/.test(type) ? type : null;
}

// distribution/reference grammar (wire-formats.md)
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

function assertRepository(repository: string): void {
  if (repository.length > 255 || !REPOSITORY.test(repository)) {
    throw new TypeError("repository must be a lowercase path like org/image");
  }
}

function assertReference(reference: string): void {
  if (!TAG.test(reference) && !DIGEST.test(reference)) {
    throw new TypeError("reference must be a tag or a sha256/sha512 digest");
  }
}
