/**
 * Workspace isolation (OWASP API1, BOLA), over real HTTP on every backend.
 *
 * Workspace A owns a registry and an image linked to it. Workspace B, with the same token (it is
 * granted every workspace), runs every operation on A's ids. Each answer must be byte-identical
 * to the answer for an id that never existed (request id and path normalised): B cannot change
 * A's objects, and cannot even tell they exist. Nor may B's call do anything on A's behalf that
 * its answer would not show: A's registries live on a local TCP listener that counts
 * connections, and around every call the matrix checks that nothing connected to it, that no
 * audit row appeared in A (or naming A's registries), and that `last_used_at` and every other
 * column of A's rows stayed as they were. Afterwards A's objects and rows are unchanged.
 *
 * Then the token checks: a token granted only A is refused B on every route
 * (`workspace_forbidden`), a provisioner token is refused every workspace route and a workspace
 * (or admin) token the provisioner's route (`insufficient_scope`), before anything is read or
 * changed. Tokens are not workspace objects (`/tokens` takes no workspace and is for admin tokens,
 * which are granted every workspace): here, only that a token granted A cannot make itself one for
 * B; tokens.contract.test.ts holds the rest of their scope checks.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Registry, SandboxImage } from "@modbox/sdk";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { contractOperations as readContractOperations } from "@modbox/testkit/contract";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { expectProblem, header, send, type RawRequest, type RawResponse } from "@modbox/testkit/http";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import { startTcpServer, type TestServer } from "@modbox/testkit/outbound";

/** Headers that legitimately differ between two otherwise identical answers. */
const VOLATILE_HEADERS = new Set(["date", "x-request-id"]);

/**
 * The answer with everything that names the request replaced: the request id (header and body)
 * and the target id (it appears in `instance`, the path). What is left must be byte-identical
 * between a foreign id and a missing one.
 */
function normalised(res: RawResponse, targetId: string) {
  const requestId = header(res, "x-request-id") ?? "";
  const scrub = (text: string) =>
    text.split(targetId).join("<target>").split(targetId.toUpperCase()).join("<TARGET>").split(requestId).join("<request-id>");
  return {
    status: `${res.status} ${res.statusText}`,
    headers: res.headers.filter(([name]) => !VOLATILE_HEADERS.has(name)).map(([name, value]) => `${name}: ${scrub(value)}`),
    body: scrub(res.text),
  };
}

/** The stored row, every column (ciphertext and version included): what "unchanged" means. */
async function storedRow(app: TestApp, table: "registries" | "sandbox_images", id: string) {
  const rows = rowsOf(
    table === "registries"
      ? await app.database.db.execute(sql`select * from registries where id = ${id}`)
      : await app.database.db.execute(sql`select * from sandbox_images where id = ${id}`),
  );
  expect(rows, `${table} row ${id}`).toHaveLength(1);
  // Dates and the like compared by their JSON form, whatever the driver returns.
  return JSON.parse(JSON.stringify(rows[0])) as Record<string, unknown>;
}

/**
 * Every (method, path) of the contract that takes `X-Workspace-Id`. Used to prove the tables
 * below cover every workspace route.
 */
function workspaceOperations(): string[] {
  return readContractOperations()
    .filter((op) => op.workspaceScoped)
    .map((op) => `${op.method} ${op.path}`);
}

/**
 * The operations the contract marks `security: []` (the probes, the index, the contract and its
 * page): no workspace, no object. published.contract.test.ts pins this list and proves every
 * other operation wants a token.
 */
const PUBLIC_OPERATIONS = new Set(readContractOperations().filter((op) => op.public).map((op) => `${op.method} ${op.path}`));

/** The operations on tokens: no workspace, admin tokens only. */
const TOKEN_OPERATIONS = new Set(readContractOperations().filter((op) => op.tags.includes("Tokens")).map((op) => `${op.method} ${op.path}`));

describe.each(backends)("workspace isolation on %s", (backend) => {
  let app: TestApp;
  const A = freshWorkspaceId("bola-a");
  const B = freshWorkspaceId("bola-b");
  /** A's registries' server: a loopback listener that counts connections and drops them. */
  let registryOfA: TestServer;
  let serverOfA: string;
  const fx = {} as {
    aRegistry: Registry;
    aRegistry2: Registry;
    aImage: SandboxImage;
    bRegistry: Registry;
    bImage: SandboxImage;
    /** A provisioner token granted every workspace: it reaches pull-credentials in B. */
    provisioner: string;
    aRows: Record<string, Record<string, unknown>>;
    bRows: Record<string, Record<string, unknown>>;
    /** The controls run by A itself before the matrix: proof that the watch below sees real use. */
    control: { connections: number; issuedInA: number; lastUsedAt: unknown };
    /** A's side effects once the fixtures and controls are done. */
    sideEffects: SideEffects;
  };

  interface SideEffects {
    connections: number;
    audit: unknown[];
    lastUsedAt: unknown[];
    rows: Record<string, unknown>;
  }

  /**
   * What a call from B must not change in A: connections to A's registry, A's audit rows (rows
   * of workspace A, or naming A's registries), `last_used_at`, and every column of A's rows.
   */
  async function sideEffectsInA(): Promise<SideEffects> {
    const audit = rowsOf(
      await app.database.db.execute(
        sql`select id, workspace_id, image_id, registry_id, token_id, outcome from pull_credential_events
            where workspace_id = ${A} or registry_id in (${fx.aRegistry.id}, ${fx.aRegistry2.id}) order by id`,
      ),
    );
    const registry = await storedRow(app, "registries", fx.aRegistry.id);
    const registry2 = await storedRow(app, "registries", fx.aRegistry2.id);
    return {
      connections: registryOfA.connections(),
      audit: JSON.parse(JSON.stringify(audit)) as unknown[],
      lastUsedAt: [registry.last_used_at, registry2.last_used_at],
      rows: { registry, registry2, image: await storedRow(app, "sandbox_images", fx.aImage.id) },
    };
  }

  /** Fails on any side effect in A between two snapshots, the connections first (the reason this exists). */
  function expectNoSideEffectsInA(before: SideEffects, after: SideEffects, what: string): void {
    expect(after.connections - before.connections, `${what}: connections to A's registry`).toBe(0);
    expect(after.audit, `${what}: audit rows in A`).toEqual(before.audit);
    expect(after.lastUsedAt, `${what}: last_used_at of A's registries`).toEqual(before.lastUsedAt);
    expect(after.rows, `${what}: A's rows`).toEqual(before.rows);
  }

  beforeAll(async () => {
    app = await startTestApp(backend);
    registryOfA = await startTcpServer({ hang: false });
    serverOfA = `127.0.0.1:${registryOfA.port}`;
    const a = app.client(A);
    const b = app.client(B);
    fx.aRegistry = await a.registries.create({
      name: "Shared name",
      server: serverOfA,
      username: "alice",
      password: `a-secret-${randomBytes(8).toString("hex")}`,
      email: "alice@example.com",
    });
    fx.aRegistry2 = await a.registries.create({ name: "A second", server: serverOfA, username: "alice", password: "pw-2" });
    fx.aImage = await a.sandboxImages.create({
      name: "A private image",
      image: `${serverOfA}/a/app`,
      registry_id: fx.aRegistry.id,
      is_default: true,
    });
    fx.bRegistry = await b.registries.create({ name: "B registry", server: "ghcr.io", username: "bob", password: "b-secret" });
    fx.bImage = await b.sandboxImages.create({ name: "B image", image: "ghcr.io/b/app", registry_id: fx.bRegistry.id });
    fx.provisioner = await app.createToken({ workspaceIds: null, scope: "provisioner" });

    // Controls, by A itself: a verify connects to A's registry, a pull hands out the credential,
    // audits it in A and marks the registry used. B's calls below must do none of that.
    await a.registries.verify(fx.aRegistry2.id);
    const pulled = await send(app.url, { method: "POST", path: `/sandbox-images/${fx.aImage.id}/pull-credentials`, workspace: A, token: fx.provisioner });
    expect(pulled.status, pulled.text).toBe(200);
    fx.control = {
      connections: registryOfA.connections(),
      issuedInA: rowsOf(await app.database.db.execute(sql`select id from pull_credential_events where workspace_id = ${A} and outcome = 'issued'`)).length,
      lastUsedAt: (await a.registries.get(fx.aRegistry.id)).last_used_at,
    };
    fx.aRegistry = await a.registries.get(fx.aRegistry.id);
    fx.aRegistry2 = await a.registries.get(fx.aRegistry2.id);
    fx.aImage = await a.sandboxImages.get(fx.aImage.id);
    fx.aRows = {
      registry: await storedRow(app, "registries", fx.aRegistry.id),
      registry2: await storedRow(app, "registries", fx.aRegistry2.id),
      image: await storedRow(app, "sandbox_images", fx.aImage.id),
    };
    fx.bRows = {
      registry: await storedRow(app, "registries", fx.bRegistry.id),
      image: await storedRow(app, "sandbox_images", fx.bImage.id),
    };
    fx.sideEffects = await sideEffectsInA();
  });
  afterAll(async () => {
    await app?.close();
    await registryOfA?.close();
  });

  test("control: A's own calls connect to A's registry, audit in A and mark it used (the watch sees real use)", () => {
    expect(fx.control.connections, "A's verify connected to its registry").toBeGreaterThan(0);
    expect(fx.control.issuedInA, "A's pull was audited in A").toBe(1);
    expect(fx.control.lastUsedAt, "A's pull marked the registry used").toEqual(expect.any(String));
  });

  /**
   * One row per operation × method that can name another workspace's object. `request(target)`
   * is sent from workspace B twice: with A's id, and with a UUID that never existed.
   * Deletes come last, so a broken delete cannot hide a broken read.
   */
  interface Probe {
    operation: string;
    /** The (method, path) of openapi.yaml this row exercises. */
    covers: string;
    request: (target: string) => RawRequest;
    /** A's id this row aims at. */
    foreign: () => string;
    status: number;
    code?: string;
    /** More to assert on the answer to A's id (lists: what they hold). */
    check?: (res: RawResponse) => void;
  }
  const fromB = (req: Omit<RawRequest, "workspace" | "token">): RawRequest => ({ ...req, workspace: B, token: app.token });
  const provisionerFromB = (req: Omit<RawRequest, "workspace" | "token">): RawRequest => ({ ...req, workspace: B, token: fx.provisioner });
  const aRegistryId = () => fx.aRegistry.id;
  const aImageId = () => fx.aImage.id;
  const listed = (res: RawResponse) => (res.json as { data: Array<{ id: string }> }).data.map((item) => item.id);
  const probes: Probe[] = [
    {
      operation: "GET /registries (lists B's registry only)",
      covers: "GET /registries",
      request: () => fromB({ method: "GET", path: "/registries?limit=200" }),
      foreign: aRegistryId,
      status: 200,
      check: (res) => {
        expect(listed(res)).toEqual([fx.bRegistry.id]);
        expect(res.text).not.toContain(serverOfA);
      },
    },
    {
      operation: "GET /registries?server=<A's server> (empty, as for a server nobody uses)",
      covers: "GET /registries",
      request: (server) => fromB({ method: "GET", path: `/registries?server=${encodeURIComponent(server)}` }),
      foreign: () => serverOfA,
      status: 200,
      check: (res) => expect(res.json).toEqual({ data: [], next_cursor: null }),
    },
    {
      operation: "GET /sandbox-images (lists B's image only)",
      covers: "GET /sandbox-images",
      request: () => fromB({ method: "GET", path: "/sandbox-images?limit=200" }),
      foreign: aImageId,
      status: 200,
      check: (res) => {
        expect(listed(res)).toEqual([fx.bImage.id]);
        expect(res.text).not.toContain(fx.aRegistry.id);
        expect((res.json as { data: SandboxImage[] }).data.every((i) => i.workspace_id === B)).toBe(true);
      },
    },
    {
      operation: "GET /registries/{A's registry}",
      covers: "GET /registries/{registry_id}",
      request: (id) => fromB({ method: "GET", path: `/registries/${id}` }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "GET /registries/{A's registry, upper-case}",
      covers: "GET /registries/{registry_id}",
      request: (id) => fromB({ method: "GET", path: `/registries/${id.toUpperCase()}` }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /registries/{A's registry} (rename + rotate password)",
      covers: "PUT /registries/{registry_id}",
      request: (id) => fromB({ method: "PUT", path: `/registries/${id}`, json: { name: "Hijacked", password: "hijacked-pw" } }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /registries/{A's registry} (disable)",
      covers: "PUT /registries/{registry_id}",
      request: (id) => fromB({ method: "PUT", path: `/registries/${id}`, json: { enabled: false } }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /registries/{A's registry} (B's own registry name: no 409 oracle)",
      covers: "PUT /registries/{registry_id}",
      request: (id) => fromB({ method: "PUT", path: `/registries/${id}`, json: { name: "B registry" } }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "GET /sandbox-images/{A's image}",
      covers: "GET /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "GET", path: `/sandbox-images/${id}` }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /sandbox-images/{A's image} (rename, unlink)",
      covers: "PUT /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "PUT", path: `/sandbox-images/${id}`, json: { name: "Hijacked", registry_id: null } }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /sandbox-images/{A's image} (is_default: the locking path)",
      covers: "PUT /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "PUT", path: `/sandbox-images/${id}`, json: { is_default: false } }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /sandbox-images/{A's image} (is_default: true)",
      covers: "PUT /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "PUT", path: `/sandbox-images/${id}`, json: { is_default: true } }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "PUT /sandbox-images/{A's image} (relink to B's registry)",
      covers: "PUT /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "PUT", path: `/sandbox-images/${id}`, json: { registry_id: fx.bRegistry.id } }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "POST /sandbox-images with registry_id = A's registry",
      covers: "POST /sandbox-images",
      // The image is on A's server: were A's registry found, the link would succeed.
      request: (id) => fromB({ method: "POST", path: "/sandbox-images", json: { name: "Stolen", image: `${serverOfA}/a/app`, registry_id: id } }),
      foreign: aRegistryId,
      status: 422,
      code: "registry_not_found",
    },
    {
      operation: "PUT /sandbox-images/{B's own image} with registry_id = A's registry",
      covers: "PUT /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "PUT", path: `/sandbox-images/${fx.bImage.id}`, json: { registry_id: id } }),
      foreign: aRegistryId,
      status: 422,
      code: "registry_not_found",
    },
    {
      operation: "GET /sandbox-images?registry_id=A's registry",
      covers: "GET /sandbox-images",
      request: (id) => fromB({ method: "GET", path: `/sandbox-images?registry_id=${id}` }),
      foreign: aRegistryId,
      status: 200,
      check: (res) => expect(res.json).toEqual({ data: [], next_cursor: null }),
    },
    {
      operation: "GET /sandbox-images?registry_id=A's registry&enabled=true&limit=200",
      covers: "GET /sandbox-images",
      request: (id) => fromB({ method: "GET", path: `/sandbox-images?registry_id=${id}&enabled=true&limit=200` }),
      foreign: aRegistryId,
      status: 200,
      check: (res) => expect(res.json).toEqual({ data: [], next_cursor: null }),
    },
    {
      operation: "POST /registries/{A's registry}/verify",
      covers: "POST /registries/{registry_id}/verify",
      request: (id) => fromB({ method: "POST", path: `/registries/${id}/verify` }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "POST /sandbox-images/{A's image}/pull-check",
      covers: "POST /sandbox-images/{image_id}/pull-check",
      request: (id) => fromB({ method: "POST", path: `/sandbox-images/${id}/pull-check` }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "POST /sandbox-images/{A's image}/pull-credentials (provisioner granted every workspace)",
      covers: "POST /sandbox-images/{image_id}/pull-credentials",
      request: (id) => provisionerFromB({ method: "POST", path: `/sandbox-images/${id}/pull-credentials` }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "DELETE /sandbox-images/{A's image}",
      covers: "DELETE /sandbox-images/{image_id}",
      request: (id) => fromB({ method: "DELETE", path: `/sandbox-images/${id}` }),
      foreign: aImageId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "DELETE /registries/{A's registry}?force=true",
      covers: "DELETE /registries/{registry_id}",
      request: (id) => fromB({ method: "DELETE", path: `/registries/${id}?force=true` }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
    {
      operation: "DELETE /registries/{A's registry}",
      covers: "DELETE /registries/{registry_id}",
      request: (id) => fromB({ method: "DELETE", path: `/registries/${id}` }),
      foreign: aRegistryId,
      status: 404,
      code: "not_found",
    },
  ];

  test.each(probes.map((p) => [p.operation, p] as const))("%s: same answer as a missing id", async (_name, probe) => {
    const foreignId = probe.foreign();
    const missingId = randomUUID();
    const before = await sideEffectsInA();
    const foreign = await send(app.url, probe.request(foreignId));
    const missing = await send(app.url, probe.request(missingId));
    // Side effects first: a call made on A's behalf must fail here even if its answer is a clean 404.
    expectNoSideEffectsInA(before, await sideEffectsInA(), probe.operation);

    if (probe.code) expectProblem(foreign, probe.status, probe.code, probe.operation);
    else expect(foreign.status, foreign.text).toBe(probe.status);
    probe.check?.(foreign);
    // The id may only come back as the request path (`instance`), never as data about A's object.
    const { instance: _path, ...rest } = (foreign.json ?? {}) as Record<string, unknown>;
    expect(JSON.stringify(rest)).not.toContain(foreignId);
    expect(normalised(foreign, foreignId)).toEqual(normalised(missing, missingId));
  });

  test("every operation of the contract is public, a workspace route, or a token route (none escapes the tables)", () => {
    const all = readContractOperations().map((op) => `${op.method} ${op.path}`);
    const workspace = new Set(workspaceOperations());
    expect(all.filter((op) => !PUBLIC_OPERATIONS.has(op) && !workspace.has(op) && !TOKEN_OPERATIONS.has(op))).toEqual([]);
    expect([...TOKEN_OPERATIONS].filter((op) => workspace.has(op) || PUBLIC_OPERATIONS.has(op))).toEqual([]);
    expect(TOKEN_OPERATIONS.size).toBeGreaterThanOrEqual(4);
  });

  test("the matrix covers every operation of the contract that can name an object or list them", () => {
    const covered = new Set(probes.map((p) => p.covers));
    // POST /registries names no object (its per-workspace name rule is tested below).
    const needsMatrix = workspaceOperations().filter((op) => op !== "POST /registries");
    expect(needsMatrix.length).toBeGreaterThanOrEqual(9);
    expect(needsMatrix.filter((op) => !covered.has(op))).toEqual([]);
  });

  test("a cursor issued in A, replayed in B, pages through B's objects only", async () => {
    const page = await send(app.url, { method: "GET", path: "/registries?limit=1", workspace: A, token: app.token });
    const cursor = (page.json as { next_cursor: string | null }).next_cursor;
    expect(cursor, "A has two registries: a second page exists").toBeTypeOf("string");
    const replay = await send(app.url, fromB({ method: "GET", path: `/registries?limit=1&cursor=${encodeURIComponent(cursor!)}` }));
    expect([200, 422], replay.text).toContain(replay.status);
    expect(replay.text).not.toContain(fx.aRegistry.id);
    expect(replay.text).not.toContain(fx.aRegistry2.id);
    if (replay.status === 200) {
      for (const r of (replay.json as { data: Registry[] }).data) expect(r.id).toBe(fx.bRegistry.id);
    } else {
      expectProblem(replay, 422, "invalid_cursor");
    }
  });

  test("B may use a registry name A already uses (names are per workspace: no 409 oracle)", async () => {
    const res = await send(
      app.url,
      fromB({ method: "POST", path: "/registries", json: { name: fx.aRegistry.name, server: "ghcr.io", username: "bob", password: "pw" } }),
    );
    expect(res.status, res.text).toBe(201);
    const created = res.json as Registry;
    expect(created.id).not.toBe(fx.aRegistry.id);
    // Undo, so B's listing above stays exactly B's registry whatever the test order.
    const deleted = await send(app.url, fromB({ method: "DELETE", path: `/registries/${created.id}` }));
    expect(deleted.status).toBe(204);
  });

  describe("a token granted only workspace A", () => {
    let onlyA: string;
    /** The provisioner's route takes a provisioner token: the same grant, the other scope. */
    let onlyAProvisioner: string;
    beforeAll(async () => {
      onlyA = await app.createToken({ workspaceIds: [A] });
      onlyAProvisioner = await app.createToken({ workspaceIds: [A], scope: "provisioner" });
    });
    const tokenFor = (req: RawRequest) => (req.path.endsWith("/pull-credentials") ? onlyAProvisioner : onlyA);

    /** Every route, with valid bodies (so only the grant can refuse) and real ids of `ws`. */
    const everyRoute = (ids: { registry: string; image: string; registryForImage: string }): Array<[string, RawRequest]> => {
      const routes: Array<Omit<RawRequest, "workspace" | "token">> = [
        { method: "GET", path: "/registries" },
        { method: "POST", path: "/registries", json: { name: `new-${randomBytes(3).toString("hex")}`, server: "ghcr.io", username: "u", password: "p" } },
        { method: "GET", path: `/registries/${ids.registry}` },
        { method: "PUT", path: `/registries/${ids.registry}`, json: { name: "Hijacked", password: "hijacked-pw" } },
        { method: "DELETE", path: `/registries/${ids.registry}?force=true` },
        { method: "POST", path: `/registries/${ids.registry}/verify` },
        { method: "GET", path: "/sandbox-images" },
        { method: "POST", path: "/sandbox-images", json: { name: "new", image: "ghcr.io/b/new", registry_id: ids.registryForImage } },
        { method: "GET", path: `/sandbox-images/${ids.image}` },
        { method: "PUT", path: `/sandbox-images/${ids.image}`, json: { name: "Hijacked", is_default: true } },
        { method: "DELETE", path: `/sandbox-images/${ids.image}` },
        { method: "POST", path: `/sandbox-images/${ids.image}/pull-check` },
        { method: "POST", path: `/sandbox-images/${ids.image}/pull-credentials` },
      ];
      return routes.map((r) => [`${r.method} ${r.path.replace(/[0-9a-f-]{36}/, "{id}").split("?")[0]}`, r as RawRequest]);
    };

    test("every route is listed (the table matches openapi.yaml)", () => {
      const listed = new Set(
        everyRoute({ registry: randomUUID(), image: randomUUID(), registryForImage: randomUUID() }).map(([name]) =>
          name.replace("/registries/{id}", "/registries/{registry_id}").replace("/sandbox-images/{id}", "/sandbox-images/{image_id}"),
        ),
      );
      const expected = workspaceOperations();
      expect([...listed].sort()).toEqual([...expected].sort());
    });

    test("is accepted in A (control: the tokens themselves are valid)", async () => {
      const res = await send(app.url, { method: "GET", path: `/registries/${fx.aRegistry.id}`, workspace: A, token: onlyA });
      expect(res.status, res.text).toBe(200);
      // Past the scope and the grant, to the lookup: a missing image of A (nothing read or recorded).
      const missing = await send(app.url, { method: "POST", path: `/sandbox-images/${randomUUID()}/pull-credentials`, workspace: A, token: onlyAProvisioner });
      expectProblem(missing, 404, "not_found");
    });

    test("gets 403 workspace_forbidden in B on every route, and B's objects are untouched", async () => {
      const routes = everyRoute({ registry: fx.bRegistry.id, image: fx.bImage.id, registryForImage: fx.bRegistry.id });
      for (const [name, req] of routes) {
        const res = await send(app.url, { ...req, workspace: B, token: tokenFor(req) });
        const problem = expectProblem(res, 403, "workspace_forbidden", name);
        expect(JSON.stringify(problem), name).not.toContain(fx.bRegistry.name);
      }
      expect(await storedRow(app, "registries", fx.bRegistry.id)).toEqual(fx.bRows.registry);
      expect(await storedRow(app, "sandbox_images", fx.bImage.id)).toEqual(fx.bRows.image);
    });

    test("cannot make itself a token for B, nor any token: 403 insufficient_scope, nothing created", async () => {
      const count = async () => Number(rowsOf(await app.database.db.execute(sql`select count(*) as n from api_tokens`))[0]!.n);
      const before = await count();
      for (const json of [
        { name: "escape", scope: "workspace", workspaces: [B] },
        { name: "escape", scope: "workspace", all_workspaces: true },
        { name: "escape", scope: "admin", all_workspaces: true },
      ]) {
        for (const workspace of [A, B]) {
          expectProblem(await send(app.url, { method: "POST", path: "/tokens", json, workspace, token: onlyA }), 403, "insufficient_scope");
        }
      }
      expect(await count()).toBe(before);
    });

    test("gets 403 workspace_forbidden in a workspace nobody uses, on every route", async () => {
      const nowhere = freshWorkspaceId("bola-none");
      for (const [name, req] of everyRoute({ registry: randomUUID(), image: randomUUID(), registryForImage: randomUUID() })) {
        expectProblem(await send(app.url, { ...req, workspace: nowhere, token: tokenFor(req) }), 403, "workspace_forbidden", name);
      }
    });
  });

  describe("a provisioner-scope token", () => {
    test("gets 403 insufficient_scope on every workspace route, even in a workspace it is granted", async () => {
      const granted = await app.createToken({ workspaceIds: [A], scope: "provisioner" });
      const everywhere = await app.createToken({ workspaceIds: null, scope: "provisioner" });
      const routes: Array<Omit<RawRequest, "workspace" | "token">> = [
        { method: "GET", path: "/registries" },
        { method: "POST", path: "/registries", json: { name: "prov", server: "ghcr.io", username: "u", password: "p" } },
        { method: "GET", path: `/registries/${fx.aRegistry.id}` },
        { method: "PUT", path: `/registries/${fx.aRegistry.id}`, json: { password: "prov-pw" } },
        { method: "DELETE", path: `/registries/${fx.aRegistry.id}` },
        { method: "POST", path: `/registries/${fx.aRegistry.id}/verify` },
        { method: "GET", path: "/sandbox-images" },
        { method: "POST", path: "/sandbox-images", json: { name: "prov", image: "ubuntu" } },
        { method: "GET", path: `/sandbox-images/${fx.aImage.id}` },
        { method: "PUT", path: `/sandbox-images/${fx.aImage.id}`, json: { enabled: false } },
        { method: "DELETE", path: `/sandbox-images/${fx.aImage.id}` },
        { method: "POST", path: `/sandbox-images/${fx.aImage.id}/pull-check` },
      ];
      // Every operation but the public ones and the provisioner's own route.
      expect(routes).toHaveLength(
        workspaceOperations().filter((op) => op !== "POST /sandbox-images/{image_id}/pull-credentials").length,
      );
      for (const token of [granted, everywhere]) {
        for (const req of routes) {
          const res = await send(app.url, { ...req, workspace: A, token });
          const problem = expectProblem(res, 403, "insufficient_scope", `${req.method} ${req.path}`);
          expect(JSON.stringify(problem)).not.toContain(fx.aRegistry.name);
        }
      }
    });
  });

  describe("a workspace-scope (or admin) token", () => {
    test("gets 403 insufficient_scope on pull-credentials, even granted every workspace, even A's own image", async () => {
      const onlyA = await app.createToken({ workspaceIds: [A] });
      for (const token of [app.token, onlyA]) {
        for (const id of [fx.aImage.id, randomUUID()]) {
          const res = await send(app.url, { method: "POST", path: `/sandbox-images/${id}/pull-credentials`, workspace: A, token });
          const problem = expectProblem(res, 403, "insufficient_scope");
          expect(JSON.stringify(problem)).not.toContain(fx.aRegistry.name);
          expect(header(res, "cache-control")).toBeUndefined();
        }
      }
    });
  });

  // Declared last: vitest runs a file's tests in order, so this sees every probe above.
  test("afterwards nothing in A changed: same objects through the API, same rows in the database", async () => {
    const a = app.client(A);
    expect(await a.registries.get(fx.aRegistry.id)).toEqual(fx.aRegistry);
    expect(await a.registries.get(fx.aRegistry2.id)).toEqual(fx.aRegistry2);
    const image = await a.sandboxImages.get(fx.aImage.id);
    expect(image).toEqual(fx.aImage);
    expect(image.registry_name).toBe(fx.aRegistry.name);
    expect(image.is_default).toBe(true);
    expect((await a.registries.list({ limit: 200 })).data.map((r) => r.id).sort()).toEqual(
      [fx.aRegistry.id, fx.aRegistry2.id].sort(),
    );
    expect((await a.sandboxImages.list({ limit: 200 })).data.map((i) => i.id)).toEqual([fx.aImage.id]);
    // Ciphertext, key id, version, updated_at, deleted_at: every column as it was.
    expect(await storedRow(app, "registries", fx.aRegistry.id)).toEqual(fx.aRows.registry);
    expect(await storedRow(app, "registries", fx.aRegistry2.id)).toEqual(fx.aRows.registry2);
    expect(await storedRow(app, "sandbox_images", fx.aImage.id)).toEqual(fx.aRows.image);
    // Nothing was created in A by B's calls either.
    const counts = rowsOf(
      await app.database.db.execute(
        sql`select (select count(*) from registries where workspace_id = ${A}) as registries,
                   (select count(*) from sandbox_images where workspace_id = ${A}) as images`,
      ),
    )[0]!;
    expect(Number(counts.registries)).toBe(2);
    expect(Number(counts.images)).toBe(1);
    // No credential was handed out but A's own control, no audit row of another workspace names
    // A's registries, and over the whole run nothing connected to A's registry. (A's audit rows do
    // grow: the token tests above are refused in A, and each refusal is audited there.)
    const events = rowsOf(await app.database.db.execute(sql`select workspace_id, registry_id, outcome from pull_credential_events`));
    expect(events.filter((e) => e.outcome === "issued").map((e) => e.workspace_id)).toEqual([A]);
    expect(events.filter((e) => e.workspace_id !== A && [fx.aRegistry.id, fx.aRegistry2.id].includes(String(e.registry_id)))).toEqual([]);
    const now = await sideEffectsInA();
    expect(now.connections - fx.sideEffects.connections, "connections to A's registry over the whole run").toBe(0);
    expect(now.lastUsedAt, "last_used_at of A's registries").toEqual(fx.sideEffects.lastUsedAt);
  });
});
