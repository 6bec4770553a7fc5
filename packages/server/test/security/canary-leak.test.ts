/**
 * Canary leak scan: passwords and keys are "never returned, logged or echoed" (README, top).
 *
 * Random canary passwords go through every path a password can take: created, rejected as a
 * duplicate, rejected by validation or by a provider's rules, inside malformed and oversized
 * bodies, rotated, sent to a missing id, in query strings, as a bearer token and as a workspace
 * id; verified on save and on demand against a registry that cannot be reached, pull-checked,
 * disabled, deleted, and handed to a provisioner. Every response (status line, headers, body),
 * every log line and a dump of every table is then searched for every canary in every encoding a
 * leak could take. Target: 0 hits.
 *
 * The one exception is the point of the provisioner's route: a 200 from
 * `POST /sandbox-images/{id}/pull-credentials` carries the credential, and only in its three
 * documented fields (`auth.x_registry_auth`, `auth.docker_config.auths.*.auth`,
 * `auth.kubernetes_secret.data[".dockerconfigjson"]`). Those answers are checked to decode to the
 * canary, then scanned like every other with exactly those three values blanked.
 *
 * The scan runs at every log level the server accepts: which request logger writes depends on it
 * (pino-http at `info` and below, the failure-only logger above, nothing at `fatal`), and the
 * exchanges include answers of 500 and 503 with canaries in the body (a trigger makes the database
 * refuse some names), so the failure logger and the error handler see canaries at every level.
 * Start-up and shutdown are scanned at every level too, on a start that works and on one that
 * fails, with the configured secrets (encryption key, bootstrap token, database password) as
 * canaries.
 *
 * Failure messages name where a canary was found (source, request, encoding), never the canary
 * or the text around it.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, postgresAdminUrl, rowsOf, type Backend } from "@modbox/testkit/databases";
import { header, send, type RawRequest, type RawResponse } from "@modbox/testkit/http";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import { findFreePort } from "@modbox/testkit/ports";
import { createPostgresTestDatabase } from "@modbox/testkit/postgres";
import { loadConfig } from "../../src/config.js";
import { createLogger, LOG_LEVELS, type LogLevel } from "../../src/logging.js";
import { logStartupFailure, startServer } from "../../src/server.js";

const BODY_LIMIT = 64 * 1024;
const USERNAME = "canary-robot";

/** `canary-` + 24 random hex characters: unique in any haystack. */
function hexCanary(): string {
  return `canary-${randomBytes(12).toString("hex")}`;
}

/** A canary that JSON, URL and base64 encode differently from its raw form. */
function unicodeCanary(): string {
  return `canary-${randomBytes(12).toString("hex")}-"quoted"\\back\\slash'ü€😀\u2028<&>`;
}

interface Needle {
  encoding: string;
  text: string;
  caseInsensitive?: boolean;
}

/**
 * base64 of `bytes` as it appears inside a longer base64 text: the bytes may start at any offset
 * modulo 3, so each alignment gives a different text. Only the characters fully determined by
 * the canary are kept.
 */
function base64Alignments(bytes: Buffer, alphabet: "base64" | "base64url"): string[] {
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString(alphabet);
    const start = shift === 0 ? 0 : 4;
    const end = Math.floor((shift + bytes.length) / 3) * 4;
    out.push(encoded.slice(start, end));
  }
  return out;
}

/** Every form a canary could take on its way out. */
function needlesFor(canary: string): Needle[] {
  const bytes = Buffer.from(canary, "utf8");
  const jsonEscaped = JSON.stringify(canary).slice(1, -1);
  const asciiJson = jsonEscaped.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const basic = Buffer.from(`${USERNAME}:${canary}`, "utf8");
  const needles: Needle[] = [
    { encoding: "raw", text: canary },
    { encoding: "JSON-escaped", text: jsonEscaped },
    { encoding: "JSON-escaped (ASCII)", text: asciiJson },
    // A JSON text logged inside a JSON log line.
    { encoding: "JSON-escaped twice", text: JSON.stringify(jsonEscaped).slice(1, -1) },
    { encoding: "URL-encoded", text: encodeURIComponent(canary) },
    { encoding: "URL-encoded (form)", text: encodeURIComponent(canary).replace(/%20/g, "+") },
    { encoding: "hex", text: bytes.toString("hex"), caseInsensitive: true },
    { encoding: "base64", text: bytes.toString("base64") },
    { encoding: "base64url", text: bytes.toString("base64url") },
    { encoding: "user:password base64", text: basic.toString("base64") },
    { encoding: "user:password base64url", text: basic.toString("base64url") },
    ...base64Alignments(bytes, "base64").map((text, i) => ({ encoding: `base64 (offset ${i})`, text })),
    ...base64Alignments(bytes, "base64url").map((text, i) => ({ encoding: `base64url (offset ${i})`, text })),
  ];
  // Drop duplicates (a hex canary is its own JSON and URL form).
  const seen = new Set<string>();
  return needles.filter((n) => n.text.length >= 16 && !seen.has(n.text) && seen.add(n.text));
}

interface Exchange {
  label: string;
  expected: number;
  /** Method and path as sent (ids included), for the coverage check. */
  method: string;
  path: string;
  response: RawResponse;
  /** A provisioner's pull-credentials answer: the credential is meant to be in it (see the top). */
  handsOutCredential?: boolean;
}

interface PullCredentialsBody {
  auth: {
    server: string;
    x_registry_auth: string;
    docker_config: { auths: Record<string, { auth: string; email?: string }> };
    kubernetes_secret: { data: { ".dockerconfigjson": string } };
  } | null;
}

/**
 * A pull-credentials answer with the three documented credential fields blanked, as text: what
 * is left is scanned like any other answer.
 */
function withoutCredentialFields(res: RawResponse): string {
  const body = JSON.parse(res.text) as PullCredentialsBody;
  if (body.auth) {
    body.auth.x_registry_auth = "<exempt>";
    for (const entry of Object.values(body.auth.docker_config.auths)) entry.auth = "<exempt>";
    body.auth.kubernetes_secret.data[".dockerconfigjson"] = "<exempt>";
  }
  return transcript({ ...res, text: JSON.stringify(body) });
}

/** Go's base64.URLEncoding (padded): what the Docker daemon decodes X-Registry-Auth with. */
function decodePaddedBase64Url(text: string): string {
  expect(text).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
  expect(text.length % 4, "padded to a multiple of 4").toBe(0);
  return Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
}

/** Go's base64.StdEncoding (padded): config.json `auth` and Kubernetes secret data. */
function decodeStdBase64(text: string): string {
  expect(text).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
  expect(text.length % 4, "padded to a multiple of 4").toBe(0);
  return Buffer.from(text, "base64").toString("utf8");
}

/** `POST /registries/{id}` → `POST /registries/{registry_id}`: the operation of openapi.yaml a request hit. */
function operationOf(method: string, path: string): string {
  const template = path
    .split("?")[0]!
    .replace(/^\/registries\/[^/]+/, "/registries/{registry_id}")
    .replace(/^\/sandbox-images\/[^/]+/, "/sandbox-images/{image_id}");
  return `${method} ${template}`;
}

/** The whole answer as text: status line, every header, the body. */
function transcript(res: RawResponse): string {
  return [`HTTP/1.1 ${res.status} ${res.statusText}`, ...res.headers.map(([n, v]) => `${n}: ${v}`), "", res.text].join("\r\n");
}

/** Paths of every `password` property in a JSON value. */
function passwordProperties(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => passwordProperties(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => [
    ...(key.toLowerCase().includes("password") ? [`${path}.${key}`] : []),
    ...passwordProperties(v, `${path}.${key}`),
  ]);
}

/** JSON of a row with drivers' values (Date, Buffer, bigint, arrays) made plain. */
function rowText(row: Record<string, unknown>): string {
  return JSON.stringify(row, (_key, value: unknown) => {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
    return value;
  });
}

const CIPHERTEXT = /^v1:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]+)$/;

interface Canary {
  label: string;
  value: string;
}

/** Every place a canary shows up, in any encoding: where to look, never the canary itself. */
function canaryHits(canaries: readonly Canary[], haystacks: ReadonlyArray<{ where: string; text: string }>): string[] {
  const hits: string[] = [];
  for (const { label, value } of canaries) {
    for (const needle of needlesFor(value)) {
      const text = needle.caseInsensitive ? needle.text.toLowerCase() : needle.text;
      for (const haystack of haystacks) {
        const hay = needle.caseInsensitive ? haystack.text.toLowerCase() : haystack.text;
        if (hay.includes(text)) hits.push(`canary "${label}" as ${needle.encoding} in ${haystack.where}`);
      }
    }
  }
  return hits;
}

/** Fails listing where each hit is (never the canary): the failure says where to look. */
function expectNoHits(hits: readonly string[]): void {
  expect(hits.length, `${hits.length} canary hit(s):\n${hits.join("\n")}`).toBe(0);
}

/** A logger into memory at `level`, with the server's own redaction: what the app would write. */
function capturedLogger(level: LogLevel) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

/** Levels at which pino-http logs every request; above them only failures are logged (or nothing). */
const LOGS_EVERY_REQUEST: ReadonlySet<LogLevel> = new Set(["info", "debug", "trace"]);
const LOGS_FAILURES_ONLY: ReadonlySet<LogLevel> = new Set(["warn", "error"]);

/**
 * Names the database refuses, through a trigger the scan installs: a 500 (an SQLSTATE the error
 * handler does not know) and a 503 (53100, disk full) on demand, for a request with a body.
 */
const FAILS_WITH_500 = "leak scan 500";
const FAILS_WITH_503 = "leak scan 503";

async function makeTheDatabaseRefuseSomeNames(app: TestApp): Promise<void> {
  await app.database.db.execute(
    sql.raw(`CREATE FUNCTION leak_scan_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name LIKE '${FAILS_WITH_500}%' THEN RAISE EXCEPTION 'refused by the leak scan' USING ERRCODE = 'XX000'; END IF;
        IF NEW.name LIKE '${FAILS_WITH_503}%' THEN RAISE EXCEPTION 'refused by the leak scan' USING ERRCODE = '53100'; END IF;
        RETURN NEW;
      END $$`),
  );
  await app.database.db.execute(
    sql.raw("CREATE TRIGGER leak_scan_refuse BEFORE INSERT OR UPDATE ON registries FOR EACH ROW EXECUTE FUNCTION leak_scan_refuse()"),
  );
}

/**
 * Every level on the embedded database. What a level changes is which request logger runs, not
 * what the database does, so PostgreSQL runs once per logger (`trace`: pino-http writes every
 * line; `warn`: the failure-only logger) rather than seven times over (each run is ~170 requests).
 */
const scanRuns: Array<readonly [Backend, LogLevel]> = [
  ...LOG_LEVELS.map((level) => ["pglite", level] as const),
  ...(backends.includes("postgres") ? (["trace", "warn"] as const).map((level) => ["postgres", level] as const) : []),
];

describe.each(scanRuns)("canary leak scan on %s at log level %s", (backend, level) => {
  let app: TestApp;
  const W = freshWorkspaceId("canary");
  /** Every canary sent anywhere; scanned for at the end. Labels are how failures name them. */
  const canaries: Canary[] = [];
  const exchanges: Exchange[] = [];
  const createdIds: string[] = [];
  let otherRegistryId: string;
  let onlyW: string;
  let provisioner: string;
  /** The issue-3 paths run in their own workspace, so W's row counts below stay as they were. */
  const P = freshWorkspaceId("canary-pull");
  /** What the pull-credentials answer must hand out: the credential after the rotation. */
  const handedOut: { kind: string; canary: string; server: string }[] = [];

  const canary = (label: string, make = hexCanary) => {
    const value = make();
    canaries.push({ label, value });
    return value;
  };

  /** Sends, records, and returns the answer. */
  async function exchange(label: string, expected: number, req: RawRequest): Promise<RawResponse> {
    const response = await send(app.url, { workspace: W, token: app.token, ...req });
    exchanges.push({ label, expected, method: req.method, path: req.path, response });
    return response;
  }

  const validBody = (name: string, password: string) => ({ name, server: "registry.example.com", username: USERNAME, password });

  beforeAll(async () => {
    app = await startTestApp(backend, { bodyLimitBytes: BODY_LIMIT, logLevel: level });
    await makeTheDatabaseRefuseSomeNames(app);
    onlyW = await app.createToken({ workspaceIds: [W] });
    provisioner = await app.createToken({ workspaceIds: [P], scope: "provisioner" });
    const other = await send(app.url, { method: "POST", path: "/registries", workspace: W, token: app.token, json: validBody("taken name", "not-a-canary-1") });
    expect(other.status).toBe(201);
    otherRegistryId = (other.json as { id: string }).id;

    // Body paths, for hex canaries and for the one that needs escaping.
    const makers: Array<[string, () => string]> = [
      ["hex", hexCanary],
      ["unicode", unicodeCanary],
    ];
    for (const [kind, make] of makers) {
      const pw = canary(`${kind} create`, make);
      const created = await exchange(`${kind}: create`, 201, { method: "POST", path: "/registries", json: validBody(`registry ${kind}`, pw) });
      const id = (created.json as { id?: string } | undefined)?.id ?? "00000000-0000-7000-8000-000000000000";
      createdIds.push(id);

      await exchange(`${kind}: create, duplicate name`, 409, {
        method: "POST",
        path: "/registries",
        json: validBody("taken name", canary(`${kind} duplicate`, make)),
      });
      await exchange(`${kind}: create, name too long`, 422, {
        method: "POST",
        path: "/registries",
        json: validBody("n".repeat(256), canary(`${kind} long name`, make)),
      });
      await exchange(`${kind}: create, bad email`, 422, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`bad email ${kind}`, canary(`${kind} bad email`, make)), email: "not an email" },
      });
      await exchange(`${kind}: create, unknown field`, 422, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`unknown ${kind}`, canary(`${kind} unknown field`, make)), extra: true },
      });
      await exchange(`${kind}: create, canary in a misspelt field`, 422, {
        method: "POST",
        path: "/registries",
        json: { name: `misspelt ${kind}`, server: "registry.example.com", username: USERNAME, passwd: canary(`${kind} passwd`, make) },
      });
      await exchange(`${kind}: create, canary as an invalid email`, 422, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`email canary ${kind}`, "pw"), email: canary(`${kind} as email`, make) },
      });
      await exchange(`${kind}: create, canary as an invalid server`, 422, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`server canary ${kind}`, "pw"), server: `has space ${canary(`${kind} as server`, make)}` },
      });
      {
        const c = canary(`${kind} over-long password`, make);
        await exchange(`${kind}: create, password over 8192 characters`, 422, {
          method: "POST",
          path: "/registries",
          json: validBody(`long pw ${kind}`, `${c}${"x".repeat(8192)}`),
        });
      }
      await exchange(`${kind}: create, password of the wrong type (array)`, 422, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`array pw ${kind}`, "pw"), password: [canary(`${kind} in array`, make)] },
      });
      await exchange(`${kind}: create, malformed JSON (truncated)`, 400, {
        method: "POST",
        path: "/registries",
        body: `{"name":"malformed","server":"s","username":"u","password":${JSON.stringify(canary(`${kind} malformed`, make))},`,
        headers: { "content-type": "application/json" },
      });
      await exchange(`${kind}: create, malformed JSON (unquoted)`, 400, {
        method: "POST",
        path: "/registries",
        body: `{"password": ${canary(`${kind} unquoted`, make)}}`,
        headers: { "content-type": "application/json" },
      });
      {
        const c = canary(`${kind} oversized`, make);
        await exchange(`${kind}: create, body over 64 KiB`, 413, {
          method: "POST",
          path: "/registries",
          json: { ...validBody(`big ${kind}`, c), email: `${"a".repeat(BODY_LIMIT)}@example.com`, username: c },
        });
      }
      {
        const c = canary(`${kind} text/plain`, make);
        await exchange(`${kind}: create, text/plain body`, 415, {
          method: "POST",
          path: "/registries",
          body: JSON.stringify(validBody(`plain ${kind}`, c)),
          headers: { "content-type": "text/plain" },
        });
      }

      await exchange(`${kind}: rotate password`, 200, {
        method: "PUT",
        path: `/registries/${id}`,
        json: { password: canary(`${kind} rotated`, make) },
      });
      await exchange(`${kind}: rotate, plus an invalid field`, 422, {
        method: "PUT",
        path: `/registries/${id}`,
        json: { password: canary(`${kind} rotate invalid`, make), enabled: "yes" },
      });
      await exchange(`${kind}: rotate, plus an unknown field`, 422, {
        method: "PUT",
        path: `/registries/${id}`,
        json: { password: canary(`${kind} rotate unknown`, make), colour: "blue" },
      });
      await exchange(`${kind}: rotate, to a taken name`, 409, {
        method: "PUT",
        path: `/registries/${id}`,
        json: { password: canary(`${kind} rotate conflict`, make), name: "taken name" },
      });
      await exchange(`${kind}: rotate, malformed JSON`, 400, {
        method: "PUT",
        path: `/registries/${id}`,
        body: `{"password":${JSON.stringify(canary(`${kind} rotate malformed`, make))}`,
        headers: { "content-type": "application/json" },
      });
      await exchange(`${kind}: rotate, missing id`, 404, {
        method: "PUT",
        path: "/registries/00000000-0000-7000-8000-000000000000",
        json: { password: canary(`${kind} rotate missing`, make) },
      });
      // The database refuses these (the trigger above): a 500 and a 503 with canaries in the body,
      // where the password's name gives no hint (the username) as well as in the password.
      await exchange(`${kind}: create, the database fails (500)`, 500, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`${FAILS_WITH_500} create ${kind}`, canary(`${kind} create 500`, make)), username: canary(`${kind} create 500 username`, make) },
      });
      await exchange(`${kind}: create, the database disk is full (503)`, 503, {
        method: "POST",
        path: "/registries",
        json: { ...validBody(`${FAILS_WITH_503} create ${kind}`, canary(`${kind} create 503`, make)), username: canary(`${kind} create 503 username`, make) },
      });
      await exchange(`${kind}: rotate, the database fails (500)`, 500, {
        method: "PUT",
        path: `/registries/${id}`,
        json: { name: `${FAILS_WITH_500} rotate ${kind}`, password: canary(`${kind} rotate 500`, make), username: canary(`${kind} rotate 500 username`, make) },
      });
      await exchange(`${kind}: rotate, the database disk is full (503)`, 503, {
        method: "PUT",
        path: `/registries/${id}`,
        json: { name: `${FAILS_WITH_503} rotate ${kind}`, password: canary(`${kind} rotate 503`, make), username: canary(`${kind} rotate 503 username`, make) },
      });
      await exchange(`${kind}: sandbox image linked to the registry`, 201, {
        method: "POST",
        path: "/sandbox-images",
        json: { name: `image ${kind}`, image: "registry.example.com/app", registry_id: id },
      });
      await exchange(`${kind}: list images of the registry`, 200, { method: "GET", path: `/sandbox-images?registry_id=${id}` });
      await exchange(`${kind}: get the registry`, 200, { method: "GET", path: `/registries/${id}` });
      await exchange(`${kind}: sandbox image with a password field`, 422, {
        method: "POST",
        path: "/sandbox-images",
        json: { name: `image ${kind}`, image: "ubuntu", password: canary(`${kind} image password`, make) },
      });
      const q = encodeURIComponent;
      await exchange(`${kind}: query ?server=`, 200, { method: "GET", path: `/registries?server=${q(canary(`${kind} query server`, make))}` });
      await exchange(`${kind}: query ?password= (unknown)`, 422, { method: "GET", path: `/registries?password=${q(canary(`${kind} query password`, make))}` });
      await exchange(`${kind}: query ?cursor=`, 422, { method: "GET", path: `/registries?cursor=${q(canary(`${kind} query cursor`, make))}` });
      await exchange(`${kind}: query ?registry_id=`, 422, {
        method: "GET",
        path: `/sandbox-images?registry_id=${q(canary(`${kind} query registry_id`, make))}`,
      });
      await exchange(`${kind}: query on GET /registries/{id}`, 422, { method: "GET", path: `/registries/${id}?password=${q(canary(`${kind} query get`, make))}` });
    }

    // Header paths: header values must be ByteStrings, so hex canaries only.
    await exchange("bearer: canary as the token", 401, { method: "GET", path: "/registries", token: canary("bearer raw") });
    await exchange("bearer: mbx_ + canary", 401, { method: "GET", path: "/registries", token: `mbx_${canary("bearer mbx")}` });
    await exchange("bearer: canary on a POST with a body", 401, {
      method: "POST",
      path: "/registries",
      token: canary("bearer post"),
      json: validBody("unauthenticated", canary("unauthenticated body")),
    });
    await exchange("authorization: Basic user:canary", 401, {
      method: "GET",
      path: "/registries",
      token: undefined,
      headers: { authorization: `Basic ${Buffer.from(`${USERNAME}:${canary("basic")}`).toString("base64")}` },
    });
    await exchange("authorization: canary with no scheme", 401, {
      method: "GET",
      path: "/registries",
      token: undefined,
      headers: { authorization: canary("no scheme") },
    });
    await exchange("X-Workspace-Id: canary, token not granted it", 403, {
      method: "GET",
      path: "/registries",
      token: onlyW,
      workspace: canary("workspace forbidden"),
    });
    await exchange("X-Workspace-Id: canary, on a POST with a canary password", 403, {
      method: "POST",
      path: "/registries",
      token: onlyW,
      workspace: canary("workspace forbidden post"),
      json: validBody("forbidden", canary("forbidden body")),
    });
    await exchange("X-Workspace-Id: canary with a bad character", 422, {
      method: "GET",
      path: "/registries",
      workspace: `${canary("workspace invalid")}!`,
    });
    await exchange("X-Workspace-Id: canary too long", 422, {
      method: "GET",
      path: "/registries",
      workspace: `${canary("workspace too long")}${"x".repeat(64)}`,
    });

    // ─── Provider rules, verification, pull checks, delete, the provisioner ──────────────────
    for (const [kind, make] of makers) {
      const inP = (req: RawRequest): RawRequest => ({ workspace: P, ...req });
      const create = (label: string, expected: number, json: Record<string, unknown>, query = "") =>
        exchange(`${kind}: ${label}`, expected, inP({ method: "POST", path: `/registries${query}`, json }));

      // Provider errors (422) and warnings (201): messages name the rule, never the value.
      await create("ECR with a username other than AWS", 422, {
        name: `ecr ${kind}`,
        server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        username: USERNAME,
        password: canary(`${kind} ecr username`, make),
      });
      await create("ECR with the whole base64 AWS:<password> token", 422, {
        name: `ecr token ${kind}`,
        server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        username: "AWS",
        password: Buffer.from(`AWS:${canary(`${kind} ecr encoded`, make)}`, "utf8").toString("base64"),
      });
      await create("Google _json_key with a password that is not JSON", 422, {
        name: `google ${kind}`,
        server: "europe-west1-docker.pkg.dev",
        username: "_json_key",
        password: canary(`${kind} google not json`, make),
      });
      await create("Google _json_key_base64 with the raw JSON key", 422, {
        name: `google b64 ${kind}`,
        server: "europe-west1-docker.pkg.dev",
        username: "_json_key_base64",
        password: JSON.stringify({
          type: "service_account",
          client_email: "robot@project.iam.gserviceaccount.com",
          private_key: canary(`${kind} google raw key`, make),
        }),
      });
      await create("GHCR with a password that is not a GitHub token (a warning)", 201, {
        name: `ghcr ${kind}`,
        server: "https://GHCR.io/",
        username: USERNAME,
        password: canary(`${kind} ghcr warning`, make),
      });
      await create("Docker Hub with an account password (a warning)", 201, {
        name: `hub ${kind}`,
        server: "index.docker.io",
        username: USERNAME,
        password: canary(`${kind} dockerhub warning`, make),
      });
      await create("a server whose repository path has a capital", 422, {
        name: `path ${kind}`,
        server: "ghcr.io/Your-Org",
        username: USERNAME,
        password: canary(`${kind} server path`, make),
      });
      await create("a CA certificate that is not PEM", 422, {
        ...validBody(`bad ca ${kind}`, canary(`${kind} bad ca`, make)),
        ca_certificate: "not a certificate",
      });
      await create("a CA certificate whose PEM block is the canary", 422, {
        ...validBody(`canary ca ${kind}`, "pw"),
        ca_certificate: `-----BEGIN CERTIFICATE-----\n${canary(`${kind} as ca`, make)}\n-----END CERTIFICATE-----\n`,
      });
      await create("?verify=true with a provider error (refused before any login)", 422, {
        name: `ecr verify ${kind}`,
        server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        username: USERNAME,
        password: canary(`${kind} ecr verify`, make),
      }, "?verify=true");

      // A registry nothing listens on (the test app's outbound policy allows loopback): verify on
      // save records registry_unreachable and saves; the password never left.
      const unreachable = "127.0.0.1:9";
      const created = await create("create ?verify=true, unreachable registry", 201, {
        name: `unreachable ${kind}`,
        server: unreachable,
        username: USERNAME,
        password: canary(`${kind} verify on create`, make),
        email: "robot@example.com",
      }, "?verify=true");
      const id = (created.json as { id?: string } | undefined)?.id ?? "00000000-0000-7000-8000-000000000000";
      const rotatedTo = canary(`${kind} verify rotate`, make);
      await exchange(`${kind}: rotate ?verify=true, unreachable registry`, 200, inP({
        method: "PUT",
        path: `/registries/${id}?verify=true`,
        json: { password: rotatedTo },
      }));
      handedOut.push({ kind, canary: rotatedTo, server: unreachable });
      await exchange(`${kind}: verify on demand, unreachable registry`, 200, inP({ method: "POST", path: `/registries/${id}/verify` }));
      await exchange(`${kind}: verify a missing registry`, 404, inP({ method: "POST", path: `/registries/${randomUUID()}/verify` }));

      const image = await exchange(`${kind}: image linked to the unreachable registry`, 201, inP({
        method: "POST",
        path: "/sandbox-images",
        json: { name: `pull ${kind}`, image: `${unreachable}/team/app`, tag: "v1", registry_id: id },
      }));
      const imageId = (image.json as { id?: string } | undefined)?.id ?? "00000000-0000-7000-8000-000000000000";
      await exchange(`${kind}: an image on another host linked to it`, 422, inP({
        method: "POST",
        path: "/sandbox-images",
        json: { name: `mismatch ${kind}`, image: "ghcr.io/team/app", registry_id: id },
      }));
      await exchange(`${kind}: get the image`, 200, inP({ method: "GET", path: `/sandbox-images/${imageId}` }));
      await exchange(`${kind}: pull check, unreachable registry`, 200, inP({ method: "POST", path: `/sandbox-images/${imageId}/pull-check` }));

      const pull = (label: string, expected: number, token = provisioner) =>
        exchange(`${kind}: pull credentials, ${label}`, expected, inP({ method: "POST", path: `/sandbox-images/${imageId}/pull-credentials`, token }));
      await pull("workspace token", 403, app.token);
      await pull("token of another workspace", 403, await app.createToken({ workspaceIds: [W], scope: "provisioner" }));
      await pull("provisioner", 200);
      exchanges.at(-1)!.handsOutCredential = true;

      // A credential that does not decrypt (another registry's ciphertext: the AAD differs): the
      // pull is a 500 through the error handler's decryption branch, the check answers its code.
      const sealed = rowsOf(await app.database.db.execute(sql`select password_ciphertext from registries where id = ${id}`))[0]!.password_ciphertext;
      await app.database.db.execute(
        sql`update registries set password_ciphertext = (select password_ciphertext from registries where id = ${otherRegistryId}) where id = ${id}`,
      );
      await pull("undecryptable credential", 500);
      await exchange(`${kind}: pull check, undecryptable credential`, 200, inP({ method: "POST", path: `/sandbox-images/${imageId}/pull-check` }));
      await app.database.db.execute(sql`update registries set password_ciphertext = ${sealed} where id = ${id}`);

      await exchange(`${kind}: disable the registry`, 200, inP({ method: "PUT", path: `/registries/${id}`, json: { enabled: false } }));
      await exchange(`${kind}: pull check, disabled registry`, 200, inP({ method: "POST", path: `/sandbox-images/${imageId}/pull-check` }));
      await exchange(`${kind}: verify, disabled registry`, 409, inP({ method: "POST", path: `/registries/${id}/verify` }));
      await pull("disabled registry", 409);
      await exchange(`${kind}: enable the registry`, 200, inP({ method: "PUT", path: `/registries/${id}`, json: { enabled: true } }));
      await exchange(`${kind}: disable the image`, 200, inP({ method: "PUT", path: `/sandbox-images/${imageId}`, json: { enabled: false } }));
      await pull("disabled image", 409);
      await exchange(`${kind}: enable the image`, 200, inP({ method: "PUT", path: `/sandbox-images/${imageId}`, json: { enabled: true } }));

      await exchange(`${kind}: delete the linked registry`, 409, inP({ method: "DELETE", path: `/registries/${id}` }));
      await exchange(`${kind}: delete it with force=true`, 204, inP({ method: "DELETE", path: `/registries/${id}?force=true` }));
      await exchange(`${kind}: pull check, deleted registry`, 200, inP({ method: "POST", path: `/sandbox-images/${imageId}/pull-check` }));
      await pull("deleted registry", 409);
      await exchange(`${kind}: list the images`, 200, inP({ method: "GET", path: "/sandbox-images" }));
      await exchange(`${kind}: list the registries`, 200, inP({ method: "GET", path: "/registries" }));
      await exchange(`${kind}: delete the image`, 204, inP({ method: "DELETE", path: `/sandbox-images/${imageId}` }));
    }

    // Same password twice: the stored ciphertexts must differ (random IVs).
    const same = canary("same password twice");
    for (const n of [1, 2]) {
      const res = await exchange(`same password, registry ${n}`, 201, { method: "POST", path: "/registries", json: validBody(`same ${n}`, same) });
      createdIds.push((res.json as { id: string }).id);
    }
  });
  afterAll(() => app?.close());

  test("every path was exercised with the status it is meant to produce", () => {
    expect(exchanges.length).toBeGreaterThanOrEqual(60);
    const wrong = exchanges
      .filter((e) => e.response.status !== e.expected)
      // Status and code only: a body could hold a canary.
      .map((e) => `${e.label}: expected ${e.expected}, got ${e.response.status} ${(e.response.json as { code?: string } | undefined)?.code ?? ""}`);
    expect(wrong).toEqual([]);
  });

  test("verify on save and on demand answer failed / registry_unreachable; pull checks answer their codes", () => {
    const answer = (label: string) => exchanges.find((e) => e.label === label)!.response.json as Record<string, unknown>;
    // The same verification, detail included, whether on save or on demand.
    const unreachable = { status: "failed", checked_at: expect.any(String), error_code: "registry_unreachable", detail: expect.any(String) };
    for (const kind of ["hex", "unicode"]) {
      expect(answer(`${kind}: create ?verify=true, unreachable registry`).verification).toEqual(unreachable);
      expect(answer(`${kind}: rotate ?verify=true, unreachable registry`).verification).toEqual(unreachable);
      expect(answer(`${kind}: verify on demand, unreachable registry`)).toEqual(unreachable);
      expect(answer(`${kind}: pull check, unreachable registry`)).toMatchObject({ pullable: false, error_code: "registry_unreachable" });
      expect(answer(`${kind}: pull check, disabled registry`)).toMatchObject({ pullable: false, error_code: "registry_disabled" });
      expect(answer(`${kind}: pull check, deleted registry`)).toMatchObject({ pullable: false, error_code: "registry_deleted" });
      expect(answer(`${kind}: pull credentials, workspace token`)).toMatchObject({ code: "insufficient_scope" });
      expect(answer(`${kind}: pull credentials, token of another workspace`)).toMatchObject({ code: "workspace_forbidden" });
      expect(answer(`${kind}: pull credentials, disabled registry`)).toMatchObject({ code: "registry_disabled" });
      expect(answer(`${kind}: pull credentials, disabled image`)).toMatchObject({ code: "image_disabled" });
      expect(answer(`${kind}: pull credentials, deleted registry`)).toMatchObject({ code: "registry_deleted" });
      expect(answer(`${kind}: pull credentials, undecryptable credential`)).toMatchObject({ code: "credential_undecryptable" });
      expect(answer(`${kind}: pull check, undecryptable credential`)).toMatchObject({ pullable: false, error_code: "credential_undecryptable" });
      expect(answer(`${kind}: create, the database fails (500)`)).toMatchObject({ code: "internal_error" });
      expect(answer(`${kind}: create, the database disk is full (503)`)).toMatchObject({ code: "service_unavailable" });
      expect(answer(`${kind}: GHCR with a password that is not a GitHub token (a warning)`)).toMatchObject({
        server: "ghcr.io",
        warnings: [{ code: "ghcr_token_format", field: "password" }],
      });
      expect(answer(`${kind}: Docker Hub with an account password (a warning)`)).toMatchObject({
        server: "docker.io",
        warnings: [{ code: "dockerhub_password", field: "password" }],
      });
    }
  });

  test(`the log holds what ${level} writes: ${LOGS_EVERY_REQUEST.has(level) ? "every request" : LOGS_FAILURES_ONLY.has(level) ? "the failures (5xx)" : "nothing"}`, () => {
    // Without this the scan of the log could pass on an empty log, at any level.
    const failures = exchanges.filter((e) => e.response.status >= 500);
    expect(failures.length, "the scan has failures for the failure logger to write").toBeGreaterThanOrEqual(10);
    const loggedIds = app.logs.map((line) => (JSON.parse(line) as { req?: { id?: string } }).req?.id).filter((id): id is string => id !== undefined);
    const idOf = (e: Exchange) => header(e.response, "x-request-id") ?? "(no request id)";
    if (LOGS_EVERY_REQUEST.has(level)) {
      expect(exchanges.filter((e) => !loggedIds.includes(idOf(e))).map((e) => e.label)).toEqual([]);
    } else if (LOGS_FAILURES_ONLY.has(level)) {
      expect(loggedIds.sort()).toEqual(failures.map(idOf).sort());
    } else {
      expect(app.logs).toEqual([]);
    }
  });

  test("every operation of the contract went through the scan", () => {
    const hit = new Set(exchanges.map((e) => operationOf(e.method, e.path)));
    const operations = [
      "POST /registries",
      "GET /registries",
      "GET /registries/{registry_id}",
      "PUT /registries/{registry_id}",
      "DELETE /registries/{registry_id}",
      "POST /registries/{registry_id}/verify",
      "POST /sandbox-images",
      "GET /sandbox-images",
      "GET /sandbox-images/{image_id}",
      "PUT /sandbox-images/{image_id}",
      "DELETE /sandbox-images/{image_id}",
      "POST /sandbox-images/{image_id}/pull-check",
      "POST /sandbox-images/{image_id}/pull-credentials",
    ];
    expect(operations.filter((op) => !hit.has(op))).toEqual([]);
  });

  test("pull-credentials hands the rotated credential out, only in its documented fields, never cached", () => {
    const answers = exchanges.filter((e) => e.handsOutCredential);
    expect(answers.map((e) => e.response.status)).toEqual([200, 200]);
    // Nothing but a provisioner's 200 from that route is exempt.
    for (const e of answers) expect(operationOf(e.method, e.path)).toBe("POST /sandbox-images/{image_id}/pull-credentials");
    answers.forEach((e, i) => {
      const { canary: password, server } = handedOut[i]!;
      expect(header(e.response, "cache-control"), e.label).toBe("no-store");
      const { auth } = e.response.json as PullCredentialsBody;
      expect(auth, e.label).not.toBeNull();
      expect(JSON.parse(decodePaddedBase64Url(auth!.x_registry_auth))).toEqual({ username: USERNAME, password, serveraddress: server });
      expect(Object.keys(auth!.docker_config.auths)).toEqual([server]);
      expect(decodeStdBase64(auth!.docker_config.auths[server]!.auth)).toBe(`${USERNAME}:${password}`);
      expect(JSON.parse(decodeStdBase64(auth!.kubernetes_secret.data[".dockerconfigjson"]))).toEqual({
        auths: {
          [server]: { username: USERNAME, password, email: "robot@example.com", auth: Buffer.from(`${USERNAME}:${password}`).toString("base64") },
        },
      });
      // Control for the scan below: the whole answer does contain the canary, the rest does not.
      const needles = needlesFor(password);
      expect(needles.some((n) => transcript(e.response).includes(n.text)), e.label).toBe(true);
      expect(needles.filter((n) => withoutCredentialFields(e.response).includes(n.text)).map((n) => n.encoding), e.label).toEqual([]);
    });
  });

  test("no response ever has a password property", () => {
    const found = exchanges.flatMap((e) => passwordProperties(e.response.json).map((p) => `${e.label}: ${p}`));
    expect(found).toEqual([]);
    // And the bodies that are JSON were parsed (the walk above saw them).
    const unparsed = exchanges.filter((e) => e.response.text !== "" && e.response.json === undefined).map((e) => e.label);
    expect(unparsed).toEqual([]);
  });

  test("0 hits: responses, logs and a database dump, in every encoding", async () => {
    const haystacks: Array<{ where: string; text: string }> = [];
    exchanges.forEach((e, i) =>
      haystacks.push({
        where: `response #${i} (${e.label}, ${e.response.status})`,
        // The provisioner's answers are scanned with their three credential fields blanked.
        text: e.handsOutCredential ? withoutCredentialFields(e.response) : transcript(e.response),
      }),
    );
    app.logs.forEach((line, i) => haystacks.push({ where: `log line #${i}`, text: line }));
    for (const table of ["registries", "sandbox_images", "api_tokens", "pull_credential_events"] as const) {
      const rows = rowsOf(await app.database.db.execute(sql.raw(`select * from ${table}`)));
      expect(rows.length, `${table} has rows to scan`).toBeGreaterThan(0);
      rows.forEach((row, i) => haystacks.push({ where: `table ${table} row #${i}`, text: rowText(row) }));
    }

    expect(canaries.length).toBeGreaterThanOrEqual(70);
    expectNoHits(canaryHits(canaries, haystacks));
  });

  test("the scan finds a canary when there is one (self-check of the needles)", () => {
    const c = unicodeCanary();
    const bytes = Buffer.from(`xy${c}z`, "utf8");
    const haystacks = [
      `before ${c} after`,
      JSON.stringify({ p: c }),
      JSON.stringify({ p: c }).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`),
      `?q=${encodeURIComponent(c)}`,
      bytes.toString("hex").toUpperCase(),
      bytes.toString("base64"),
      Buffer.from(`a${c}`).toString("base64url"),
      `Basic ${Buffer.from(`${USERNAME}:${c}`).toString("base64")}`,
    ];
    for (const hay of haystacks) {
      const found = needlesFor(c).some((n) => (n.caseInsensitive ? hay.toLowerCase().includes(n.text.toLowerCase()) : hay.includes(n.text)));
      expect(found, `a needle matches ${hay.slice(0, 12)}…`).toBe(true);
    }
  });

  test("stored passwords are v1:<keyId>:<base64url(iv ‖ ct ‖ tag)>, 12-byte IV and 16-byte tag", async () => {
    const rows = rowsOf(
      await app.database.db.execute(
        sql`select id, password_ciphertext, password_key_id from registries where workspace_id = ${W} and deleted_at is null`,
      ),
    );
    // "taken name", two created, two with the same password.
    expect(rows).toHaveLength(5);
    const passwordLengths = new Map<string, number>();
    for (const c of canaries) passwordLengths.set(c.label, Buffer.byteLength(c.value, "utf8"));
    for (const row of rows) {
      const stored = String(row.password_ciphertext);
      const match = CIPHERTEXT.exec(stored);
      expect(match, `registry ${String(row.id)}: ciphertext format`).not.toBeNull();
      expect(match![1]).toBe(row.password_key_id);
      const payload = Buffer.from(match![2]!, "base64url");
      expect(payload.toString("base64url")).toBe(match![2]);
      // AES-GCM: ciphertext as long as the plaintext, so the payload is 12 + |password| + 16.
      expect(payload.length - 28, `registry ${String(row.id)}: payload length`).toBeGreaterThan(0);
    }
    // Every live registry, in any workspace, holds the same envelope format.
    const all = rowsOf(await app.database.db.execute(sql`select id, password_ciphertext from registries where deleted_at is null`));
    expect(all.length).toBeGreaterThan(rows.length);
    for (const row of all) expect(String(row.password_ciphertext), `registry ${String(row.id)}`).toMatch(CIPHERTEXT);
    // A deleted registry's credential is destroyed, not kept.
    const deleted = rowsOf(await app.database.db.execute(sql`select password_ciphertext, password_key_id from registries where deleted_at is not null`));
    expect(deleted.length).toBeGreaterThanOrEqual(2);
    for (const row of deleted) expect(row).toEqual({ password_ciphertext: null, password_key_id: null });
    // The rotated canaries are what the two first registries hold now: pin their exact length.
    const rotated = canaries.filter((c) => c.label.endsWith(" rotated"));
    expect(rotated).toHaveLength(2);
    const byId = new Map(rows.map((r) => [String(r.id), String(r.password_ciphertext)]));
    rotated.forEach((c, i) => {
      const payload = Buffer.from(byId.get(createdIds[i]!)!.split(":")[2]!, "base64url");
      expect(payload.length).toBe(12 + Buffer.byteLength(c.value, "utf8") + 16);
    });
  });

  test("the same password stored twice gives two different ciphertexts (random IV)", async () => {
    const [first, second] = createdIds.slice(-2);
    const rows = rowsOf(
      await app.database.db.execute(sql`select id, password_ciphertext from registries where id in (${first}, ${second})`),
    );
    expect(rows).toHaveLength(2);
    const [a, b] = rows.map((r) => String(r.password_ciphertext));
    expect(a).not.toBe(b);
    const iv = (s: string) => Buffer.from(s.split(":")[2]!, "base64url").subarray(0, 12).toString("hex");
    expect(iv(a!)).not.toBe(iv(b!));
    // Same plaintext length, so same envelope length: only the bytes differ.
    expect(a!.length).toBe(b!.length);
  });

  test("responses carry no credentials in headers either", () => {
    for (const e of exchanges) {
      expect(header(e.response, "set-cookie"), e.label).toBeUndefined();
      expect(header(e.response, "authorization"), e.label).toBeUndefined();
    }
  });
});

/**
 * A 32-byte encryption key whose bytes are a canary's text, so its every form (the base64 of
 * MODBOX_ENCRYPTION_KEYS, hex, raw) is a needle.
 */
function keyCanary(): { canary: string; spec: string } {
  const canary = `canary-${randomBytes(12).toString("hex")}!`;
  return { canary, spec: `leak-scan:${Buffer.from(canary, "utf8").toString("base64")}` };
}

/**
 * Start-up and shutdown, with the secrets a server is configured with as canaries: the
 * encryption key, the bootstrap token, the database password (in DATABASE_URL). On PostgreSQL,
 * where all three are configured, at every level. Without PostgreSQL, on the embedded database
 * (whose first start generates the key) at `trace` only: a fresh PGlite data directory takes
 * seconds to create, and nothing at start-up asks the level (only the request logger does), so
 * `trace` writes every line any level would. The embedded first start at the default level is
 * also run as a process by the end-to-end suite (server-process.test.ts).
 */
const startupRuns: Array<readonly [Backend, LogLevel]> = backends.includes("postgres")
  ? LOG_LEVELS.map((level) => ["postgres", level] as const)
  : [["pglite", "trace"]];

describe.each(startupRuns)("canary leak scan of a start and a shutdown on %s at log level %s", (backend, level) => {
  test("the configured secrets reach no log line", async () => {
    const canaries: Canary[] = [];
    const token = `mbx_${hexCanary()}`;
    canaries.push({ label: "bootstrap token", value: token });
    const dataDir = await mkdtemp(join(tmpdir(), "modbox-leak-scan-"));
    const env: Record<string, string> = {
      PORT: "0",
      HOST: "127.0.0.1",
      MODBOX_LOG_LEVEL: level,
      MODBOX_DATA_DIR: dataDir,
      MODBOX_BOOTSTRAP_TOKEN: token,
    };
    let dropDatabase = async () => {};
    if (backend === "postgres") {
      const created = await createPostgresTestDatabase(postgresAdminUrl!);
      dropDatabase = created.drop;
      // The test server trusts local connections, so any password works: what matters is that it is configured.
      const url = new URL(created.url);
      url.password = hexCanary();
      canaries.push({ label: "database password", value: url.password });
      env.DATABASE_URL = url.toString();
      const key = keyCanary();
      canaries.push({ label: "encryption key", value: key.canary });
      env.MODBOX_ENCRYPTION_KEYS = key.spec;
    }
    const { logger, lines } = capturedLogger(level);
    try {
      const server = await startServer(loadConfig(env), logger);
      try {
        const answer = await fetch(`${server.url}/registries`, { headers: { authorization: `Bearer ${token}`, "x-workspace-id": freshWorkspaceId("start") } });
        expect(answer.status).toBe(200);
      } finally {
        await server.close();
      }
      if (backend === "pglite") {
        // Generated by this start: the key itself must not have been logged.
        const [, base64] = (await readFile(join(dataDir, "encryption-keys"), "utf8")).trim().split(":");
        expect(base64).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        canaries.push({ label: "generated encryption key", value: base64! });
        canaries.push({ label: "generated encryption key (hex)", value: Buffer.from(base64!, "base64").toString("hex") });
      }
    } finally {
      await dropDatabase();
      await rm(dataDir, { recursive: true, force: true });
    }

    // Not vacuous: at info and below the start and the stop were logged.
    const messages = lines.map((line) => (JSON.parse(line) as { msg?: string }).msg);
    if (LOGS_EVERY_REQUEST.has(level)) expect(messages).toEqual(expect.arrayContaining(["modbox registries server listening", "server stopped"]));
    if (level === "silent") expect(lines).toEqual([]);
    expectNoHits(canaryHits(canaries, lines.map((text, i) => ({ where: `log line #${i}`, text }))));
  });
});

/**
 * Starts that fail in the driver, with the password in DATABASE_URL: a refused connection, and a
 * URL the config accepts but the driver cannot parse (its TypeError carries the whole URL as
 * `input`, which a raw `{ err }` would log).
 */
const failedStarts: Array<[string, (password: string) => Promise<string>]> = [
  ["the database refuses the connection", async (password) => `postgres://modbox:${password}@127.0.0.1:${await findFreePort()}/modbox`],
  ["the driver cannot parse DATABASE_URL (port 99999)", async (password) => `postgres://modbox:${password}@127.0.0.1:99999/modbox`],
];

describe.each(LOG_LEVELS)("canary leak scan of a start that fails, at log level %s", (level) => {
  test.each(failedStarts)("%s: the configured secrets reach no log line", async (_label, databaseUrl) => {
    const password = hexCanary();
    const token = `mbx_${hexCanary()}`;
    const key = keyCanary();
    const canaries: Canary[] = [
      { label: "database password", value: password },
      { label: "bootstrap token", value: token },
      { label: "encryption key", value: key.canary },
    ];
    const config = loadConfig({
      PORT: "0",
      MODBOX_LOG_LEVEL: level,
      DATABASE_URL: await databaseUrl(password),
      MODBOX_ENCRYPTION_KEYS: key.spec,
      MODBOX_BOOTSTRAP_TOKEN: token,
      MODBOX_DB_CONNECT_TIMEOUT_SECONDS: "2",
    });
    const { logger, lines } = capturedLogger(level);

    // What main.ts does with a start that throws.
    const failure = await startServer(config, logger).then(
      async (server) => {
        await server.close();
        return undefined;
      },
      (err: unknown) => err,
    );
    expect(failure, "the start failed").toBeInstanceOf(Error);
    logStartupFailure(logger, failure);

    const messages = lines.map((line) => (JSON.parse(line) as { msg?: string }).msg);
    expect(messages).toEqual(level === "silent" ? [] : ["start-up failed"]);
    expectNoHits(canaryHits(canaries, lines.map((text, i) => ({ where: `log line #${i}`, text }))));
  });
});
