/**
 * Helpers for the end-to-end suites: SDK clients that record every answer the
 * app gave (status, headers, body text) so a suite can scan them for secrets afterwards, the
 * secret scanner itself, strict decoders of the runtime credential formats, and small database
 * and registry-log readers.
 */
import { readFileSync } from "node:fs";
import { createClient, type ModboxClient } from "@modbox/sdk";
import { sql } from "drizzle-orm";
import type { TestApp } from "./app.js";
import { rowsOf } from "./databases.js";
import { hashApiToken } from "./server.js";

// ---------------------------------------------------------------------------------------------
// Recording clients

export interface RecordedExchange {
  method: string;
  /** Path and query, e.g. `/sandbox-images/…/pull-credentials`. */
  path: string;
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

/** Every answer the clients of one suite received, in order. */
export class ExchangeLog {
  readonly exchanges: RecordedExchange[] = [];

  /** A `fetch` that records each answer (it reads a clone; the SDK gets the original). */
  readonly fetch = async (request: Request): Promise<Response> => {
    const response = await globalThis.fetch(request);
    const url = new URL(request.url);
    const headers: Array<[string, string]> = [];
    response.headers.forEach((value, name) => headers.push([name, value]));
    this.exchanges.push({
      method: request.method,
      path: `${url.pathname}${url.search}`,
      status: response.status,
      headers,
      body: await response.clone().text(),
    });
    return response;
  };

  /** The last recorded exchange whose path (without query) ends with `suffix`. */
  last(suffix: string): RecordedExchange | undefined {
    return this.exchanges.findLast((e) => e.path.split("?")[0]!.endsWith(suffix));
  }
}

/** An SDK client on `baseUrl` (no retries: tests see every answer) recording into `log`. */
export function recordingClient(baseUrl: string, token: string, workspaceId: string, log: ExchangeLog): ModboxClient {
  return createClient({ baseUrl, token, workspaceId, maxRetries: 0, fetch: log.fetch });
}

// ---------------------------------------------------------------------------------------------
// Secret scanning

/**
 * Every text a secret could take on its way out: raw, JSON-escaped, URL-encoded, hex, base64 and
 * base64url (also of `user:secret`, and at every alignment inside a longer base64 text, as in
 * `X-Registry-Auth` or a Kubernetes secret). Only needles long enough to be unique are kept.
 */
export function secretNeedles(user: string, secret: string): Array<{ encoding: string; text: string }> {
  const bytes = Buffer.from(secret, "utf8");
  const basic = Buffer.from(`${user}:${secret}`, "utf8");
  const alignments = (data: Buffer, alphabet: "base64" | "base64url") =>
    [0, 1, 2].map((shift) => {
      const encoded = Buffer.concat([Buffer.alloc(shift), data]).toString(alphabet);
      return encoded.slice(shift === 0 ? 0 : 4, Math.floor((shift + data.length) / 3) * 4);
    });
  const needles = [
    { encoding: "raw", text: secret },
    { encoding: "JSON-escaped", text: JSON.stringify(secret).slice(1, -1) },
    { encoding: "URL-encoded", text: encodeURIComponent(secret) },
    { encoding: "hex", text: bytes.toString("hex") },
    { encoding: "user:secret base64", text: basic.toString("base64") },
    { encoding: "user:secret base64url", text: basic.toString("base64url") },
    ...alignments(bytes, "base64").map((text, i) => ({ encoding: `base64 (offset ${i})`, text })),
    ...alignments(bytes, "base64url").map((text, i) => ({ encoding: `base64url (offset ${i})`, text })),
  ];
  const seen = new Set<string>();
  return needles.filter((n) => n.text.length >= 12 && !seen.has(n.text) && seen.add(n.text));
}

/**
 * Where any of `secrets` appears in `haystacks`: `<where>: secret #n (<encoding>)` per hit, never
 * the secret or the text around it. Empty when clean.
 */
export function findSecrets(
  haystacks: ReadonlyArray<{ where: string; text: string }>,
  secrets: ReadonlyArray<{ user: string; secret: string }>,
): string[] {
  const needles = secrets.flatMap(({ user, secret }, i) =>
    secretNeedles(user, secret).map((n) => ({ ...n, label: `secret #${i + 1}` })),
  );
  const hits: string[] = [];
  for (const { where, text } of haystacks) {
    const lower = text.toLowerCase();
    for (const needle of needles) {
      const found = needle.encoding === "hex" ? lower.includes(needle.text) : text.includes(needle.text);
      if (found) hits.push(`${where}: ${needle.label} (${needle.encoding})`);
    }
  }
  return hits;
}

/** An exchange as one searchable text: status, headers and body. */
export function exchangeText(e: RecordedExchange): string {
  return `${e.status}\n${e.headers.map(([n, v]) => `${n}: ${v}`).join("\n")}\n\n${e.body}`;
}

// ---------------------------------------------------------------------------------------------
// Runtime credential formats, decoded as their consumers decode them

const STD_PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_PADDED = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/**
 * Go's `base64.URLEncoding.DecodeString`, which the Docker daemon applies to `X-Registry-Auth`:
 * URL alphabet only, `=` padding required (length a multiple of 4), nothing after the padding.
 * Node's `Buffer.from(x, "base64url")` accepts anything; this does not.
 */
export function decodeGoUrlEncoding(text: string): Buffer {
  if (text.length % 4 !== 0) throw new Error(`illegal base64 data: length ${text.length} is not a multiple of 4`);
  if (!URL_PADDED.test(text)) throw new Error("illegal base64 data: not the padded URL alphabet");
  const bytes = Buffer.from(text, "base64url");
  // Canonical: the same bytes re-encode to the same text (no stray bits Go's strict mode refuses).
  if (bytes.toString("base64").replace(/\+/g, "-").replace(/\//g, "_") !== text) {
    throw new Error("illegal base64 data: not canonical");
  }
  return bytes;
}

/** Go's `base64.StdEncoding` (Kubernetes `data` values, `config.json` `auth`): standard, padded. */
export function decodeGoStdEncoding(text: string): Buffer {
  if (text.length % 4 !== 0) throw new Error(`illegal base64 data: length ${text.length} is not a multiple of 4`);
  if (!STD_PADDED.test(text)) throw new Error("illegal base64 data: not the padded standard alphabet");
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64") !== text) throw new Error("illegal base64 data: not canonical");
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Database

/** The `api_tokens.id` of a token (the id pull-credential events record). */
export async function tokenIdOf(app: TestApp, token: string): Promise<string> {
  const rows = rowsOf(await app.database.db.execute(sql`SELECT id FROM api_tokens WHERE token_hash = ${hashApiToken(token)}`));
  if (rows.length !== 1) throw new Error(`expected one api_tokens row for the token, got ${rows.length}`);
  return String(rows[0]!.id);
}

// ---------------------------------------------------------------------------------------------
// The test registry's access log

/** User-Agent of the app's outbound client (registry-protocol/outbound/http.ts). */
export const APP_USER_AGENT = /^modbox-registries\//;

export interface AccessLogLine {
  method: string;
  path: string;
  status: number;
  userAgent: string;
}

/** The requests distribution's access log recorded (`"GET /v2/ HTTP/1.1" 401 87 "" "<ua>"`). */
export function accessLog(logPath: string): AccessLogLine[] {
  const lines: AccessLogLine[] = [];
  for (const line of readFileSync(logPath, "utf8").split("\n")) {
    const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"$/.exec(line);
    if (m) lines.push({ method: m[1]!, path: m[2]!, status: Number(m[3]), userAgent: m[4]! });
  }
  return lines;
}

/** The access-log lines of requests the app made (its User-Agent). */
export function appAccessLog(logPath: string): AccessLogLine[] {
  return accessLog(logPath).filter((l) => APP_USER_AGENT.test(l.userAgent));
}
