/**
 * Docker image references, parsed by the grammar of distribution/reference (the library the Docker
 * CLI and daemon use), so that what we accept is what a runtime can pull:
 *
 *   reference   := name [ ":" tag ] [ "@" digest ]
 *   name        := [ domain "/" ] path
 *   domain      := host [ ":" port ]                 (see hosts.ts for what a host may be)
 *   path        := component [ "/" component ]*      component := [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
 *   tag         := [\w][\w.-]{0,127}
 *   digest      := algorithm ":" hex                 algorithm := [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*
 *                                                    hex := [0-9a-fA-F]{32,}
 *
 * - The first path component is a domain only if it contains `.` or `:`, starts with `[` (IPv6) or
 *   is `localhost`; otherwise the whole name is a Docker Hub repository. (Newer distribution
 *   versions also treat an uppercase first component as a domain; we do not: `Org/app` is refused
 *   as "must be lowercase", which is what the user needs to hear.)
 * - Docker Hub's spellings (`docker.io`, `index.docker.io`, `registry-1.docker.io`,
 *   `registry.hub.docker.com`) become `docker.io`; a single-component Docker Hub name gets
 *   `library/` (`ubuntu` → `docker.io/library/ubuntu`).
 * - Stricter than distribution, on purpose: the domain is lowercased and must pass the same host
 *   rules as a registry server (no numeric IPv4 disguises, IPv6 in RFC 5952 form), the port must be
 *   1–65535, and the digests Docker knows (sha256, sha384, sha512) must have their exact lowercase
 *   length. Other digest algorithms are accepted by the grammar alone.
 * - The name (canonical, `domain[:port]/path`) is at most 255 characters.
 *
 * Reasons are short and generic: they name the rule that failed, never echo the input.
 */
import { DOCKER_HUB, DOCKER_HUB_ALIASES, parseHostAndPort } from "./hosts.js";
import { checkRepositoryPath, NAME_TOTAL_LENGTH_MAX, PATH_REASONS } from "./repository-path.js";

export { NAME_TOTAL_LENGTH_MAX };

/** The tag pulled when a reference has none. */
export const DEFAULT_TAG = "latest";
const MAX_INPUT_LENGTH = 1024;

export interface ImageReference {
  /** Registry host, lowercase; `docker.io` for Docker Hub; IPv6 with its brackets (`[::1]`). */
  domain: string;
  port?: number;
  /** Repository path, e.g. `library/ubuntu`, `org/team/app`. */
  repository: string;
  tag?: string;
  /** `algorithm:hex`, e.g. `sha256:<64 lowercase hex>`. */
  digest?: string;
  /** The whole reference as a user would write it: `ubuntu:22.04`, `ghcr.io/org/app@sha256:…`. */
  familiar: string;
}

export type ParseReferenceResult = { ok: true; ref: ImageReference } | { ok: false; reason: string };
export type ParseImageAndTagResult =
  | { ok: true; ref: ImageReference & { tag: string } }
  | { ok: false; field: "image" | "tag"; reason: string };

const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST_ALGORITHM = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;
const DIGEST_HEX = /^[0-9a-fA-F]{32,}$/;
const IMAGE_ID = /^[a-f0-9]{64}$/;
/** Digest algorithms Docker implements, with the exact length of their lowercase hex. */
const KNOWN_DIGESTS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

export const REASONS = {
  empty: "image reference is empty",
  tooLong: `image reference must be at most ${MAX_INPUT_LENGTH} characters`,
  whitespace: "image reference must not contain whitespace or control characters",
  scheme: "image reference must not start with a scheme such as https://",
  nameEmpty: "image name is empty",
  imageId: "image name must not be a 64-character hex string (that is an image ID, not a name)",
  hostWithoutPath: "a registry host must be followed by a repository path, e.g. host:5000/name",
  ...PATH_REASONS,
  nameTooLong: `image name (with its registry host) must be at most ${NAME_TOTAL_LENGTH_MAX} characters`,
  tagEmpty: "tag is empty",
  tagTooLong: "tag must be at most 128 characters",
  tag: "tag must match [\\w][\\w.-]{0,127}",
  digestEmpty: "digest is empty",
  digestFormat: "digest must be algorithm:hex, e.g. sha256:<64 hex characters>",
  digestAlgorithm: "digest algorithm must match [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*",
  digestHex: "digest must have at least 32 hexadecimal characters",
  tagInImage: "put the tag in the tag field",
} as const;

/**
 * Parses a Docker image reference.
 *
 * @example
 * parseImageReference("ubuntu:22.04").ref
 * // { domain: "docker.io", repository: "library/ubuntu", tag: "22.04", familiar: "ubuntu:22.04" }
 * parseImageReference("localhost:5000/team/app@sha256:…").ref
 * // { domain: "localhost", port: 5000, repository: "team/app", digest: "sha256:…", familiar: "localhost:5000/team/app@sha256:…" }
 */
export function parseImageReference(input: string): ParseReferenceResult {
  if (typeof input !== "string" || input === "") return fail(REASONS.empty);
  if (input.length > MAX_INPUT_LENGTH) return fail(REASONS.tooLong);
  if (/[\s\u0000-\u001f\u007f]/.test(input)) return fail(REASONS.whitespace);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(input)) return fail(REASONS.scheme);

  let name = input;
  let digest: string | undefined;
  const at = input.indexOf("@");
  if (at !== -1) {
    name = input.slice(0, at);
    digest = input.slice(at + 1);
  }

  let tag: string | undefined;
  const lastSlash = name.lastIndexOf("/");
  const colon = name.indexOf(":", lastSlash + 1);
  if (colon !== -1) {
    if (lastSlash === -1 && name.startsWith("[")) return fail(REASONS.hostWithoutPath);
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }

  const parsedName = parseName(name);
  if (!parsedName.ok) return parsedName;
  if (tag !== undefined) {
    const tagReason = checkTag(tag);
    if (tagReason !== undefined) return fail(tagReason);
  }
  if (digest !== undefined) {
    const digestReason = checkDigest(digest);
    if (digestReason !== undefined) return fail(digestReason);
  }

  const parts: Omit<ImageReference, "familiar"> = { domain: parsedName.domain, repository: parsedName.repository };
  if (parsedName.port !== undefined) parts.port = parsedName.port;
  if (tag !== undefined) parts.tag = tag;
  if (digest !== undefined) parts.digest = digest;
  return { ok: true, ref: { ...parts, familiar: familiarString(parts) } };
}

/**
 * Parses the API's `image` and `tag` fields together.
 *
 * The API stores them apart: `image` is a reference *without* a tag (`ubuntu`,
 * `ghcr.io/org/app`), `tag` defaults to `latest`. An `image` with a `:tag` is refused (field
 * `image`) rather than silently split, so the stored pair always means one thing.
 * `image` may pin a digest (`ghcr.io/org/app@sha256:…`): then the digest is what is pulled
 * (`pullReference` leaves the tag out) and the tag, still validated, is only a label.
 */
export function parseImageAndTag(image: string, tag: string | undefined): ParseImageAndTagResult {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return { ok: false, field: "image", reason: parsed.reason };
  if (parsed.ref.tag !== undefined) return { ok: false, field: "image", reason: REASONS.tagInImage };
  const effectiveTag = tag ?? DEFAULT_TAG;
  const tagReason = checkTag(effectiveTag);
  if (tagReason !== undefined) return { ok: false, field: "tag", reason: tagReason };
  const ref = { ...parsed.ref, tag: effectiveTag };
  ref.familiar = familiarString(ref);
  return { ok: true, ref };
}

/**
 * What to hand a runtime: `domain[:port]/repository` then `@digest` when there is one, else
 * `:tag` (default `latest`). Docker Hub is written `docker.io/…`, which every runtime accepts.
 *
 * @example pullReference(parseImageAndTag("ubuntu", "22.04").ref) // "docker.io/library/ubuntu:22.04"
 */
export function pullReference(ref: Pick<ImageReference, "domain" | "port" | "repository" | "tag" | "digest">): string {
  const name = canonicalName(ref);
  return ref.digest !== undefined ? `${name}@${ref.digest}` : `${name}:${ref.tag ?? DEFAULT_TAG}`;
}

/** The registry that serves the image, in the stored server form (`docker.io`, `localhost:5000`). */
export function referenceServer(ref: Pick<ImageReference, "domain" | "port">): string {
  return ref.port !== undefined ? `${ref.domain}:${ref.port}` : ref.domain;
}

/** `domain[:port]/repository`, e.g. `docker.io/library/ubuntu`. */
export function canonicalName(ref: Pick<ImageReference, "domain" | "port" | "repository">): string {
  return `${referenceServer(ref)}/${ref.repository}`;
}

/** The name as a user would write it, without tag or digest: `ubuntu`, `org/app`, `ghcr.io/org/app`. */
export function familiarName(ref: Pick<ImageReference, "domain" | "port" | "repository">): string {
  if (ref.domain === DOCKER_HUB && ref.port === undefined) {
    const rest = ref.repository.startsWith("library/") ? ref.repository.slice("library/".length) : undefined;
    return rest !== undefined && !rest.includes("/") ? rest : ref.repository;
  }
  return canonicalName(ref);
}

/** Undefined when the tag is valid, else the reason. */
export function checkTag(tag: string): string | undefined {
  if (tag === "") return REASONS.tagEmpty;
  if (tag.length > 128) return REASONS.tagTooLong;
  return TAG.test(tag) ? undefined : REASONS.tag;
}

/** Undefined when the digest is valid, else the reason. */
export function checkDigest(digest: string): string | undefined {
  if (digest === "") return REASONS.digestEmpty;
  const colon = digest.indexOf(":");
  if (colon <= 0 || colon === digest.length - 1) return REASONS.digestFormat;
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (!DIGEST_ALGORITHM.test(algorithm)) return REASONS.digestAlgorithm;
  const known = KNOWN_DIGESTS[algorithm.toLowerCase()];
  if (known !== undefined) {
    if (algorithm !== algorithm.toLowerCase()) return `digest algorithm ${algorithm.toLowerCase()} must be lowercase`;
    if (!new RegExp(`^[a-f0-9]{${known}}$`).test(hex)) {
      return `${algorithm} digest must be ${known} lowercase hexadecimal characters`;
    }
    return undefined;
  }
  return DIGEST_HEX.test(hex) ? undefined : REASONS.digestHex;
}

// ---------------------------------------------------------------------------------------------

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

type ParsedName = { ok: true; domain: string; port: number | undefined; repository: string } | { ok: false; reason: string };

function parseName(name: string): ParsedName {
  if (name === "") return fail(REASONS.nameEmpty);
  if (IMAGE_ID.test(name)) return fail(REASONS.imageId);

  let domain = DOCKER_HUB;
  let port: number | undefined;
  let path = name;
  const slash = name.indexOf("/");
  if (slash !== -1) {
    const first = name.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first.startsWith("[") || first === "localhost") {
      const host = parseHostAndPort(first);
      if (!host.ok) return fail(`registry host: ${host.reason}`);
      domain = host.host;
      port = host.port;
      path = name.slice(slash + 1);
      if (port === undefined && DOCKER_HUB_ALIASES.includes(domain)) domain = DOCKER_HUB;
    }
  }

  const pathReason = checkRepositoryPath(path);
  if (pathReason !== undefined) return fail(pathReason);
  if (domain === DOCKER_HUB && port === undefined && !path.includes("/")) path = `library/${path}`;

  const result = { ok: true as const, domain, repository: path, port };
  if (canonicalName(result).length > NAME_TOTAL_LENGTH_MAX) return fail(REASONS.nameTooLong);
  return result;
}

function familiarString(ref: Omit<ImageReference, "familiar">): string {
  let text = familiarName(ref);
  if (ref.tag !== undefined) text += `:${ref.tag}`;
  if (ref.digest !== undefined) text += `@${ref.digest}`;
  return text;
}
