/**
 * Entity tags (RFC 9110 §8.8.3) of registries and sandbox images, and the preconditions read
 * from `If-Match` / `If-None-Match`.
 *
 * A tag is `"<version>.<state>"`. `version` is the row's, moved by every write of the API and
 * compared-and-set by updates. `state` is a short digest of what the representation shows
 * besides that: bookkeeping the server writes without moving the version (a registry's
 * `last_used_at` and recorded verification, an image's registry name, which a rename of the
 * registry changes). So a tag changes whenever the representation does (`If-None-Match`, 304),
 * while `If-Match` compares the version part only: a pull marking the registry used must not
 * make an operator's edit stale. The contract says so on `If-Match`.
 */
import { createHash } from "node:crypto";
import type { Request } from "express";
import type { RegistryRecord, SandboxImageRecord } from "../db/records.js";
import { DomainError } from "../errors.js";
import type { VersionPrecondition } from "../services/preconditions.js";

/** 48 bits of the digest: a collision would only serve one stale 304 once. */
const STATE_CHARS = 8;

function entityTag(version: number, state: readonly unknown[]): string {
  const digest = createHash("sha256").update(JSON.stringify(state)).digest("base64url").slice(0, STATE_CHARS);
  return `"${version}.${digest}"`;
}

export function registryTag(r: RegistryRecord): string {
  return entityTag(r.version, [
    r.lastUsedAt?.getTime() ?? null,
    r.verificationStatus,
    r.verificationCheckedAt?.getTime() ?? null,
    r.verificationErrorCode,
    r.verificationDetail,
  ]);
}

export function sandboxImageTag(i: SandboxImageRecord): string {
  return entityTag(i.version, [i.registryName]);
}

/** One list member: an optional weakness prefix and a quoted opaque tag (RFC 9110 §8.8.3). */
const LIST_MEMBER = /^\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*$/;
/** Our opaque tags: the version, a dot, the state digest. */
const OUR_TAG = /^(\d{1,15})\.[A-Za-z0-9_-]+$/;

interface ParsedTag {
  weak: boolean;
  opaque: string;
}

/**
 * `*`, or the list of entity tags. Several header lines arrive joined with ", ", which is the
 * same list. A value that is neither is a 400: a client that sends `3` or `3.abc` unquoted
 * would otherwise only ever see 412 and never learn why.
 */
function parseTagList(req: Request, header: "if-match" | "if-none-match"): "*" | ParsedTag[] | undefined {
  const value = req.headers[header];
  if (value === undefined) return undefined;
  if (value.trim() === "*") return "*";
  // Commas cannot occur inside a tag: the opaque part excludes them only by convention, so
  // split on commas that follow a closing quote.
  return value.split(/(?<=")\s*,/).map((member): ParsedTag => {
    const match = LIST_MEMBER.exec(member);
    if (!match) {
      const name = header === "if-match" ? "If-Match" : "If-None-Match";
      throw new DomainError("malformed_request", `${name} must be * or a list of quoted entity tags, e.g. "3.k2x1c9a0" as answered in ETag.`);
    }
    return { weak: match[1] !== undefined, opaque: match[2]! };
  });
}

/**
 * What `If-Match` asks: absent (no condition), any current version, or the versions named by
 * its strong tags. Weak tags never match (strong comparison), nor do tags this server did not
 * issue; a list of only those is a condition no version meets (412).
 */
export function ifMatchOf(req: Request): VersionPrecondition | undefined {
  const tags = parseTagList(req, "if-match");
  if (tags === undefined) return undefined;
  if (tags === "*") return "any";
  const versions: number[] = [];
  for (const tag of tags) {
    const version = tag.weak ? null : OUR_TAG.exec(tag.opaque)?.[1];
    if (version) versions.push(Number(version));
  }
  return versions;
}

/** Whether `If-None-Match` names the current tag (weak comparison, RFC 9110 §13.1.2): answer 304. */
export function isNotModified(req: Request, currentTag: string): boolean {
  const tags = parseTagList(req, "if-none-match");
  if (tags === undefined) return false;
  if (tags === "*") return true;
  const current = currentTag.slice(1, -1);
  return tags.some((tag) => tag.opaque === current);
}
