/**
 * Answers that never change while the process runs (the contract, the API reference page and
 * its script): built once at start, with their entity tag and, when it pays, a gzip copy, so a
 * request costs a hash lookup and a write, never a read, a parse or a compression.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { Request, Response } from "express";
import { isNotModified } from "./entity-tags.js";

/**
 * Smaller answers fit in TCP's first window (10 segments, about 14 KiB) as they are: gzip would
 * save no round trip, only bytes nobody waits for.
 */
const GZIP_MIN_BYTES = 16 * 1024;

export interface StaticRepresentation {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
  /** Strong tag of `body`; the gzip copy has its own (RFC 9110 §8.8.3: one per encoding). */
  readonly etag: string;
  readonly gzip?: { readonly body: Buffer; readonly etag: string };
  /** Anything else the answer always carries (a Content-Security-Policy, say). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A 16-character base64url digest (96 bits): names the bytes in tags and file names. */
export function contentDigest(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 16);
}

export function staticRepresentation(
  body: Buffer | string,
  options: { contentType: string; cacheControl: string; headers?: Record<string, string> },
): StaticRepresentation {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const digest = contentDigest(bytes);
  return {
    body: bytes,
    contentType: options.contentType,
    cacheControl: options.cacheControl,
    etag: `"${digest}"`,
    ...(bytes.length >= GZIP_MIN_BYTES && { gzip: { body: gzipSync(bytes), etag: `"${digest}-gzip"` } }),
    ...(options.headers && { headers: options.headers }),
  };
}

/**
 * GET and HEAD of a static representation: gzip when the client takes it, `304` when its
 * `If-None-Match` names what it would get (a malformed one is a 400 problem, as on every other
 * route). Node drops the body of a HEAD; the headers are the GET's.
 */
export function sendRepresentation(req: Request, res: Response, representation: StaticRepresentation): void {
  const gzip = representation.gzip && req.acceptsEncodings("gzip", "identity") === "gzip" ? representation.gzip : undefined;
  const etag = gzip?.etag ?? representation.etag;
  // First: a malformed If-None-Match throws, and its 400 must not carry this answer's headers.
  const notModified = isNotModified(req, etag);
  res.setHeader("Cache-Control", representation.cacheControl);
  res.setHeader("ETag", etag);
  if (representation.gzip) res.setHeader("Vary", "Accept-Encoding");
  res.setHeader("X-Content-Type-Options", "nosniff");
  for (const [name, value] of Object.entries(representation.headers ?? {})) res.setHeader(name, value);
  if (notModified) {
    res.status(304).end();
    return;
  }
  res.setHeader("Content-Type", representation.contentType);
  if (gzip) res.setHeader("Content-Encoding", "gzip");
  res.status(200).send(gzip?.body ?? representation.body);
}
