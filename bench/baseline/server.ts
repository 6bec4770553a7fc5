/**
 * The BASELINE of the benchmarks: the practical limit for this API on this machine.
 *
 * A bare `node:http` server and postgres.js running the same SQL as the real server (keyset list
 * page, get by id, insert, update, link an image) on the same database, with none of the rest:
 * no framework, no request or response validation, no authentication, no encryption (it stores a
 * fixed string of a real envelope's length), no logging. Every figure of ours is reported as a
 * ratio to this one, measured in the same run.
 *
 * Env: DATABASE_URL, PORT (listens on 127.0.0.1 only), DB_POOL_SIZE (default 10, as ours),
 * BASELINE_CIPHERTEXT and BASELINE_KEY_ID (what it stores in place of an encrypted password),
 * BASELINE_ENCRYPTION_KEY (base64: the server's key, for the pull-credentials decrypt).
 *
 * Pull credentials: one SELECT (image joined to its live registry, ciphertext included), a raw
 * node:crypto AES-256-GCM decrypt (AAD built for the row), and the same JSON as ours (the same
 * `runtimeAuth` and reference functions). It neither audits the issue nor touches `last_used_at`,
 * which ours does (two more writes): the floor of the read, not of the whole feature.
 */
import { createDecipheriv, createSecretKey } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import postgres from "postgres";
import { serverPath } from "../../packages/server/src/registry-protocol/hosts.js";
import { parseImageAndTag, pullReference, referenceServer } from "../../packages/server/src/registry-protocol/reference.js";
import { uuidv7 } from "../../packages/server/src/services/ids.js";
import { runtimeAuth } from "../../packages/server/src/services/runtime-auth.js";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is required");
const port = Number(process.env.PORT ?? 0);
const ciphertext = process.env.BASELINE_CIPHERTEXT ?? `v1:k00000000-00000000:${"A".repeat(91)}`;
const keyId = process.env.BASELINE_KEY_ID ?? "k00000000-00000000";

const rawKey = process.env.BASELINE_ENCRYPTION_KEY
  ? createSecretKey(Buffer.from(process.env.BASELINE_ENCRYPTION_KEY, "base64"))
  : undefined;

const sql = postgres(databaseUrl, {
  max: Number(process.env.DB_POOL_SIZE ?? 10),
  connect_timeout: 5,
  idle_timeout: 30,
  onnotice: () => {},
});

interface RegistryRow {
  id: string;
  name: string;
  server: string;
  username: string;
  email: string | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const registryDto = (r: RegistryRow) => ({
  id: r.id,
  name: r.name,
  server: r.server,
  username: r.username,
  email: r.email,
  enabled: r.enabled,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : {};
}

async function listRegistries(workspaceId: string, query: URLSearchParams) {
  const limit = Number(query.get("limit") ?? 50);
  const cursor = query.get("cursor");
  const before = cursor ? Buffer.from(cursor, "base64url").toString("utf8") : null;
  const rows = before
    ? await sql<RegistryRow[]>`
        select id, name, server, username, email, enabled, created_at, updated_at from registries
        where workspace_id = ${workspaceId} and deleted_at is null and id < ${before}
        order by id desc limit ${limit + 1}`
    : await sql<RegistryRow[]>`
        select id, name, server, username, email, enabled, created_at, updated_at from registries
        where workspace_id = ${workspaceId} and deleted_at is null
        order by id desc limit ${limit + 1}`;
  const items = rows.slice(0, limit);
  const next = rows.length > limit ? Buffer.from(items[items.length - 1]!.id).toString("base64url") : null;
  return { data: items.map(registryDto), next_cursor: next };
}

async function getRegistry(workspaceId: string, id: string) {
  const [row] = await sql<RegistryRow[]>`
    select id, name, server, username, email, enabled, created_at, updated_at from registries
    where workspace_id = ${workspaceId} and id = ${id} and deleted_at is null`;
  return row;
}

async function createRegistry(workspaceId: string, body: Record<string, unknown>) {
  const now = new Date();
  const [row] = await sql<RegistryRow[]>`
    insert into registries (id, workspace_id, name, server, username, email, enabled,
      password_ciphertext, password_key_id, created_at, updated_at)
    values (${uuidv7()}, ${workspaceId}, ${body.name as string}, ${body.server as string},
      ${body.username as string}, ${(body.email as string | undefined) ?? null}, ${(body.enabled as boolean | undefined) ?? true},
      ${ciphertext}, ${keyId}, ${now}, ${now})
    returning id, name, server, username, email, enabled, created_at, updated_at`;
  return row!;
}

async function updateRegistry(workspaceId: string, id: string, body: Record<string, unknown>) {
  const patch: Record<string, unknown> = {};
  for (const field of ["name", "server", "username", "email", "enabled"]) {
    if (body[field] !== undefined) patch[field] = body[field];
  }
  if (body.password !== undefined) {
    patch.password_ciphertext = ciphertext;
    patch.password_key_id = keyId;
  }
  patch.updated_at = new Date();
  const [row] = await sql<RegistryRow[]>`
    update registries set ${sql(patch)}, version = version + 1
    where workspace_id = ${workspaceId} and id = ${id} and deleted_at is null
    returning id, name, server, username, email, enabled, created_at, updated_at`;
  return row;
}

interface ImageRow {
  id: string;
  workspace_id: string;
  name: string;
  image: string;
  tag: string;
  registry_id: string | null;
  description: string | null;
  enabled: boolean;
  is_default: boolean;
  memory_mb: number;
  ttl_seconds: number | null;
  readiness_port: number | null;
  created_at: Date;
  updated_at: Date;
}

/** Checks the registry is live in the workspace (and takes its name), then inserts. */
async function createImage(workspaceId: string, body: Record<string, unknown>) {
  const registryId = (body.registry_id as string | null | undefined) ?? null;
  let registryName: string | null = null;
  if (registryId !== null) {
    const [registry] = await sql<{ name: string }[]>`
      select name from registries where workspace_id = ${workspaceId} and id = ${registryId} and deleted_at is null`;
    if (!registry) return null;
    registryName = registry.name;
  }
  const now = new Date();
  const [row] = await sql<ImageRow[]>`
    insert into sandbox_images (id, workspace_id, name, image, tag, registry_id, description, enabled,
      is_default, memory_mb, ttl_seconds, readiness_port, created_at, updated_at)
    values (${uuidv7()}, ${workspaceId}, ${body.name as string}, ${body.image as string},
      ${(body.tag as string | undefined) ?? "latest"}, ${registryId}, ${(body.description as string | undefined) ?? null},
      ${(body.enabled as boolean | undefined) ?? true}, false, ${(body.memory_mb as number | undefined) ?? 1024},
      ${null}, ${null}, ${now}, ${now})
    returning *`;
  const image = row!;
  return {
    id: image.id,
    workspace_id: image.workspace_id,
    name: image.name,
    image: image.image,
    tag: image.tag,
    registry_id: image.registry_id,
    registry_name: registryName,
    description: image.description,
    enabled: image.enabled,
    is_default: image.is_default,
    memory_mb: image.memory_mb,
    ttl_seconds: image.ttl_seconds,
    readiness_port: image.readiness_port,
    created_at: image.created_at.toISOString(),
    updated_at: image.updated_at.toISOString(),
  };
}

interface PullRow {
  image: string;
  tag: string;
  registry_id: string;
  name: string;
  server: string;
  username: string;
  email: string | null;
  password_ciphertext: string;
}

/** `v1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`, the AAD bound to the row, raw node:crypto. */
function decryptRaw(envelope: string, workspaceId: string, registryId: string): string {
  if (!rawKey) throw new Error("BASELINE_ENCRYPTION_KEY is required for pull credentials");
  const second = envelope.indexOf(":", 3);
  const keyId = envelope.slice(3, second);
  const payload = Buffer.from(envelope.slice(second + 1), "base64url");
  const aad = `["modbox/crypto","v1",${JSON.stringify(keyId)},[["registry_id",${JSON.stringify(registryId)}],["workspace_id",${JSON.stringify(workspaceId)}]]]`;
  const gcm = createDecipheriv("aes-256-gcm", rawKey, payload.subarray(0, 12), { authTagLength: 16 });
  gcm.setAAD(Buffer.from(aad, "utf8"));
  gcm.setAuthTag(payload.subarray(payload.length - 16));
  const plaintext = gcm.update(payload.subarray(12, payload.length - 16));
  gcm.final();
  return plaintext.toString("utf8");
}

async function pullCredentials(workspaceId: string, imageId: string) {
  const [row] = await sql<PullRow[]>`
    select i.image, i.tag, r.id as registry_id, r.name, r.server, r.username, r.email, r.password_ciphertext
    from sandbox_images i
    join registries r on r.workspace_id = i.workspace_id and r.id = i.registry_id and r.deleted_at is null
    where i.workspace_id = ${workspaceId} and i.id = ${imageId} and i.enabled and r.enabled`;
  if (!row) return undefined;
  const password = decryptRaw(row.password_ciphertext, workspaceId, row.registry_id);
  const parsed = parseImageAndTag(row.image, row.tag);
  return {
    image_id: imageId,
    reference: parsed.ok ? pullReference(parsed.ref) : `${row.image}:${row.tag}`,
    registry: { id: row.registry_id, name: row.name, server: row.server, insecure: row.server.startsWith("http://") },
    auth: runtimeAuth(
      { host: parsed.ok ? referenceServer(parsed.ref) : row.server, path: serverPath(row.server), username: row.username, password, email: row.email },
      `modbox-pull-${imageId}`,
    ),
  };
}

const PULL_CREDENTIALS = /^\/sandbox-images\/([0-9a-f-]{36})\/pull-credentials$/;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname;
  const workspaceId = String(req.headers["x-workspace-id"] ?? "");
  if (req.method === "GET" && path === "/readyz") {
    await sql`select 1`;
    return send(res, 200, { status: "ready" });
  }
  if (path === "/registries") {
    if (req.method === "GET") return send(res, 200, await listRegistries(workspaceId, url.searchParams));
    if (req.method === "POST") return send(res, 201, await createRegistry(workspaceId, await readJson(req)));
  }
  if (path.startsWith("/registries/")) {
    const id = path.slice("/registries/".length);
    if (!UUID.test(id)) return send(res, 404, { code: "not_found" });
    const row =
      req.method === "GET"
        ? await getRegistry(workspaceId, id)
        : req.method === "PUT"
          ? await updateRegistry(workspaceId, id, await readJson(req))
          : undefined;
    return row ? send(res, 200, registryDto(row)) : send(res, 404, { code: "not_found" });
  }
  const pull = req.method === "POST" ? PULL_CREDENTIALS.exec(path) : null;
  if (pull) {
    const credentials = await pullCredentials(workspaceId, pull[1]!);
    return credentials ? send(res, 200, credentials) : send(res, 404, { code: "not_found" });
  }
  if (path === "/sandbox-images" && req.method === "POST") {
    const image = await createImage(workspaceId, await readJson(req));
    return image ? send(res, 201, image) : send(res, 422, { code: "registry_not_found" });
  }
  send(res, 404, { code: "not_found" });
}

const server = createServer((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 500, { code: "internal_error" });
    else res.destroy();
  });
});
server.listen(port, "127.0.0.1");

const stop = () => {
  server.close();
  server.closeIdleConnections();
  void sql.end({ timeout: 5 }).finally(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
