/**
 * Tokens over the API (`/tokens`), over real HTTP on every backend: what an admin token may
 * create, that the token is shown once and never again (nor its hash), paging, revocation (this
 * server at once, every server through the database's notice), and who may do what with the
 * tokens made here.
 */
import { createHash, randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthenticator } from "../../src/auth/authenticator.js";
import { listenForRevocations } from "../../src/auth/revocation-listener.js";
import { createApiTokenRepository } from "../../src/db/repositories/api-tokens.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { contractOperations } from "@modbox/testkit/contract";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { expectProblem, header, send, type RawRequest, type RawResponse } from "@modbox/testkit/http";
import { freshWorkspaceId } from "@modbox/testkit/ids";

interface TokenBody {
  id: string;
  name: string;
  scope: "workspace" | "provisioner" | "admin";
  all_workspaces: boolean;
  workspaces: string[] | null;
  created_at: string;
  created_by: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}
interface CreatedBody extends TokenBody {
  token: string;
}
interface ListBody {
  data: TokenBody[];
  next_cursor: string | null;
}

const TOKEN_SHAPE = /^mbx_[A-Za-z0-9_-]{32}[0-9a-f]{8}$/;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe.each(backends)("tokens over the API on %s", (backend) => {
  let app: TestApp;
  const W = freshWorkspaceId("tokens");
  const OTHER = freshWorkspaceId("tokens-other");
  /** Every token this suite was shown, to prove no later answer or log shows it again. */
  const shown: string[] = [];

  beforeAll(async () => {
    app = await startTestApp(backend);
  });
  afterAll(() => app?.close());

  /** A request as the bootstrap token (an admin token); no X-Workspace-Id: /tokens takes none. */
  const asAdmin = (req: Omit<RawRequest, "token">, token = app.token) => send(app.url, { ...req, token });

  async function create(body: Record<string, unknown>, token = app.token): Promise<CreatedBody> {
    const res = await asAdmin({ method: "POST", path: "/tokens", json: body }, token);
    expect(res.status, res.text).toBe(201);
    const created = res.json as CreatedBody;
    shown.push(created.token);
    return created;
  }

  describe("create", () => {
    it("answers 201, the token once, Location and no-store, for each grant and scope", async () => {
      const cases = [
        { body: { name: "ci", scope: "workspace", workspaces: [W, OTHER] }, workspaces: [W, OTHER] },
        { body: { name: "provisioner", scope: "provisioner", workspaces: [W] }, workspaces: [W] },
        { body: { name: "everywhere", scope: "workspace", all_workspaces: true }, workspaces: null },
        { body: { name: "ops", scope: "admin", all_workspaces: true }, workspaces: null },
      ];
      for (const { body, workspaces } of cases) {
        const res = await asAdmin({ method: "POST", path: "/tokens", json: body });
        expect(res.status, res.text).toBe(201);
        const created = res.json as CreatedBody;
        shown.push(created.token);
        expect(created).toEqual({
          id: expect.any(String),
          name: body.name,
          scope: body.scope,
          all_workspaces: workspaces === null,
          workspaces,
          created_at: expect.any(String),
          created_by: "bootstrap",
          last_used_at: null,
          revoked_at: null,
          token: expect.stringMatching(TOKEN_SHAPE),
        });
        expect(header(res, "location")).toBe(`/tokens/${created.id}`);
        expect(header(res, "cache-control")).toBe("no-store");
        // Stored: its hash only, never the token.
        const [row] = rowsOf(await app.database.db.execute(sql`select * from api_tokens where id = ${created.id}`));
        expect(row!.token_hash).toBe(sha256(created.token));
        expect(JSON.stringify(row)).not.toContain(created.token);
      }
    });

    it("records which token made a token", async () => {
      const admin = await create({ name: "admin maker", scope: "admin", all_workspaces: true });
      const made = await create({ name: "made by an admin token", scope: "workspace", workspaces: [W] }, admin.token);
      expect(made.created_by).toBe(admin.id);
    });

    it("stores the name NFC-normalised, and a repeated workspace once", async () => {
      const made = await create({ name: "cafe\u0301", scope: "workspace", workspaces: [W] });
      expect(made.name).toBe("café");
      const res = await asAdmin({ method: "POST", path: "/tokens", json: { name: "twice", scope: "workspace", workspaces: [W, W] } });
      // uniqueItems: the contract refuses a repeated workspace outright.
      expectProblem(res, 422, "validation_failed");
    });

    it.each<[string, Record<string, unknown>, { path: string; message?: string }]>([
      ["neither workspaces nor all_workspaces", { name: "x", scope: "workspace" }, { path: "/body/workspaces", message: "is required, or all_workspaces: true" }],
      ["both workspaces and all_workspaces", { name: "x", scope: "workspace", workspaces: [W], all_workspaces: true }, { path: "/body/all_workspaces" }],
      ["an admin token granted some workspaces", { name: "x", scope: "admin", workspaces: [W] }, { path: "/body/workspaces" }],
      ["all_workspaces: false", { name: "x", scope: "workspace", all_workspaces: false }, { path: "/body/all_workspaces" }],
      ["an empty workspace list", { name: "x", scope: "workspace", workspaces: [] }, { path: "/body/workspaces" }],
      ["a workspace id the header could never carry", { name: "x", scope: "workspace", workspaces: ["not a workspace"] }, { path: "/body/workspaces/0" }],
      ["an unknown scope", { name: "x", scope: "root", all_workspaces: true }, { path: "/body/scope" }],
      ["no scope", { name: "x", all_workspaces: true }, { path: "/body/scope", message: "is required" }],
      ["no name", { scope: "workspace", all_workspaces: true }, { path: "/body/name", message: "is required" }],
      ["a blank name", { name: "   ", scope: "workspace", all_workspaces: true }, { path: "/body/name" }],
      ["a name with a line break", { name: "a\nb", scope: "workspace", all_workspaces: true }, { path: "/body/name" }],
      ["an unknown field", { name: "x", scope: "workspace", all_workspaces: true, expires_at: "tomorrow" }, { path: "/body/expires_at" }],
    ])("refuses %s with 422 validation_failed naming the field, and creates nothing", async (_, body, error) => {
      const before = await tokenCount();
      const res = await asAdmin({ method: "POST", path: "/tokens", json: body });
      const problem = expectProblem(res, 422, "validation_failed");
      expect(problem.errors).toEqual(expect.arrayContaining([error.message ? error : expect.objectContaining({ path: error.path })]));
      expect(await tokenCount()).toBe(before);
    });

    it("refuses an Idempotency-Key (a replay would need the token stored), before creating anything", async () => {
      const before = await tokenCount();
      const res = await asAdmin({
        method: "POST",
        path: "/tokens",
        json: { name: "keyed", scope: "workspace", workspaces: [W] },
        headers: { "idempotency-key": randomUUID() },
      });
      const problem = expectProblem(res, 422, "validation_failed");
      expect(problem.errors).toEqual([{ path: "/headers/idempotency-key", message: expect.stringContaining("never stored") }]);
      expect(await tokenCount()).toBe(before);
    });

    it("400 for a body that is not JSON, 415 for one that is not application/json", async () => {
      expectProblem(await asAdmin({ method: "POST", path: "/tokens", body: "{", headers: { "content-type": "application/json" } }), 400, "malformed_request");
      expectProblem(await asAdmin({ method: "POST", path: "/tokens", body: "name=x", headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type");
    });
  });

  describe("list and get", () => {
    it("pages through every token newest first, each once, with the filters kept", async () => {
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await create({ name: `paged ${i}`, scope: "workspace", workspaces: [W] }));
      const revoked = made[2]!;
      expect((await asAdmin({ method: "DELETE", path: `/tokens/${revoked.id}` })).status).toBe(204);

      const all = await everyPage("/tokens?limit=2");
      expect(all.length).toBe(await tokenCount());
      expect(new Set(all.map((t) => t.id)).size).toBe(all.length);
      expect(all.map((t) => t.id)).toEqual([...all.map((t) => t.id)].sort().reverse());
      for (const t of made) expect(all.map((x) => x.id)).toContain(t.id);

      const active = await everyPage("/tokens?limit=2&revoked=false");
      expect(active.map((t) => t.id)).not.toContain(revoked.id);
      expect(active.every((t) => t.revoked_at === null)).toBe(true);
      const onlyRevoked = await everyPage("/tokens?limit=2&revoked=true");
      expect(onlyRevoked.map((t) => t.id)).toContain(revoked.id);
      expect(onlyRevoked.every((t) => t.revoked_at !== null)).toBe(true);

      // A cursor is valid only with the filters it was issued for.
      const first = (await asAdmin({ method: "GET", path: "/tokens?limit=1&revoked=false" })).json as ListBody;
      const replay = await asAdmin({ method: "GET", path: `/tokens?limit=1&cursor=${encodeURIComponent(first.next_cursor!)}` });
      expectProblem(replay, 422, "invalid_cursor");
      expectProblem(await asAdmin({ method: "GET", path: "/tokens?limit=0" }), 422, "validation_failed");
    });

    it("gets one token; an unknown id is 404, a malformed one 422", async () => {
      const made = await create({ name: "one", scope: "provisioner", all_workspaces: true });
      const res = await asAdmin({ method: "GET", path: `/tokens/${made.id}` });
      expect(res.status, res.text).toBe(200);
      const { token: _shownOnce, ...stored } = made;
      expect(res.json).toEqual(stored);
      expectProblem(await asAdmin({ method: "GET", path: `/tokens/${randomUUID()}` }), 404, "not_found");
      expectProblem(await asAdmin({ method: "GET", path: "/tokens/bootstrap" }), 422, "validation_failed");
    });

    it("never answers a token nor its hash again, and never logs either", async () => {
      expect(shown.length).toBeGreaterThan(5);
      const answers: RawResponse[] = [await asAdmin({ method: "GET", path: "/tokens?limit=200" })];
      const ids = ((answers[0]!.json as ListBody).data ?? []).map((t) => t.id);
      for (const id of ids) answers.push(await asAdmin({ method: "GET", path: `/tokens/${id}` }));
      const text = answers.map((res) => res.text).join("\n");
      const logs = app.logs.join("\n");
      for (const token of shown) {
        for (const needle of [token, sha256(token), token.slice(4, 24)]) {
          expect(text.includes(needle), "a token or its hash in a later answer").toBe(false);
          expect(logs.includes(needle), "a token or its hash in the log").toBe(false);
        }
      }
      expect(Object.keys((answers[1]!.json ?? {}) as object)).not.toContain("token");
    });
  });

  describe("revoke", () => {
    it("a revoked token gets 401 from the next request, though this server had it cached", async () => {
      const made = await create({ name: "to revoke", scope: "workspace", workspaces: [W] });
      const use = () => send(app.url, { method: "GET", path: "/registries", workspace: W, token: made.token });
      expect((await use()).status).toBe(200); // cached now, for MODBOX_TOKEN_CACHE_SECONDS
      expect((await asAdmin({ method: "DELETE", path: `/tokens/${made.id}` })).status).toBe(204);
      expectProblem(await use(), 401, "unauthorized");

      const got = (await asAdmin({ method: "GET", path: `/tokens/${made.id}` })).json as TokenBody;
      expect(got.revoked_at).toEqual(expect.any(String));
      expect(got.last_used_at).toEqual(expect.any(String));
      // Again: still revoked, 204 (a retried DELETE is harmless), the first revocation time kept.
      expect((await asAdmin({ method: "DELETE", path: `/tokens/${made.id}` })).status).toBe(204);
      expect(((await asAdmin({ method: "GET", path: `/tokens/${made.id}` })).json as TokenBody).revoked_at).toBe(got.revoked_at);
      expectProblem(await asAdmin({ method: "DELETE", path: `/tokens/${randomUUID()}` }), 404, "not_found");
    });

    it("reaches every server through the database: another authenticator listening drops it within a second", async () => {
      const made = await create({ name: "seen elsewhere", scope: "workspace", workspaces: [W] });
      // Another server's token cache, on the same database, trusting a lookup for a minute.
      const elsewhere = createAuthenticator({ tokens: createApiTokenRepository(app.database.db), cacheTtlMs: 60_000 });
      const listener = await listenForRevocations(app.database, elsewhere, pino({ level: "silent" }));
      try {
        expect((await elsewhere.authenticate(made.token, "192.0.2.1")).kind).toBe("authenticated");
        const revokedAt = Date.now();
        expect((await asAdmin({ method: "DELETE", path: `/tokens/${made.id}` })).status).toBe(204);
        let kind = "authenticated";
        while (kind === "authenticated" && Date.now() - revokedAt < 1_000) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          kind = (await elsewhere.authenticate(made.token, "192.0.2.1")).kind;
        }
        expect(kind, "refused within a second of the DELETE").toBe("refused");
      } finally {
        await listener.stop();
      }
    });

    it("an admin token may revoke itself; it is refused from the next request", async () => {
      const admin = await create({ name: "self-revoking", scope: "admin", all_workspaces: true });
      expect((await asAdmin({ method: "DELETE", path: `/tokens/${admin.id}` }, admin.token)).status).toBe(204);
      expectProblem(await asAdmin({ method: "GET", path: "/tokens" }, admin.token), 401, "unauthorized");
    });
  });

  describe("scopes", () => {
    /** Every /tokens operation, with a valid request, so only the scope can refuse it. */
    const tokenRoutes = (id: string): Array<[string, Omit<RawRequest, "token">]> => [
      ["POST /tokens", { method: "POST", path: "/tokens", json: { name: "escalate", scope: "admin", all_workspaces: true } }],
      ["GET /tokens", { method: "GET", path: "/tokens" }],
      ["GET /tokens/{token_id}", { method: "GET", path: `/tokens/${id}` }],
      ["DELETE /tokens/{token_id}", { method: "DELETE", path: `/tokens/${id}` }],
    ];

    it("workspace and provisioner tokens get 403 insufficient_scope on every /tokens route, and change nothing", async () => {
      const target = await create({ name: "target", scope: "workspace", workspaces: [W] });
      const listed = tokenRoutes(target.id).map(([name]) => name);
      const expected = contractOperations()
        .filter((op) => op.tags.includes("Tokens"))
        .map((op) => `${op.method} ${op.path}`);
      expect(listed.sort()).toEqual(expected.sort());
      const workspace = await create({ name: "plain", scope: "workspace", all_workspaces: true });
      const provisioner = await create({ name: "prov", scope: "provisioner", all_workspaces: true });
      const before = await tokenCount();
      for (const token of [workspace.token, provisioner.token]) {
        for (const [name, req] of tokenRoutes(target.id)) {
          const res = await send(app.url, { ...req, workspace: W, token });
          const problem = expectProblem(res, 403, "insufficient_scope", name);
          expect(problem.detail).toMatch(/needs an admin token/);
        }
      }
      expect(await tokenCount()).toBe(before);
      expect(((await asAdmin({ method: "GET", path: `/tokens/${target.id}` })).json as TokenBody).revoked_at).toBeNull();
    });

    it("the scope is checked before the request is read: a non-admin's invalid request is 403 too, not 422", async () => {
      const workspace = await create({ name: "plain again", scope: "workspace", all_workspaces: true });
      for (const req of [
        { method: "POST", path: "/tokens", json: { nonsense: true } },
        { method: "POST", path: "/tokens", body: "{", headers: { "content-type": "application/json" } },
        { method: "GET", path: "/tokens?limit=0" },
        { method: "GET", path: "/tokens/not-a-uuid" },
        { method: "PATCH", path: `/tokens/${randomUUID()}`, json: {} },
      ]) {
        expectProblem(await send(app.url, { ...req, token: workspace.token }), 403, "insufficient_scope", `${req.method} ${req.path}`);
      }
      // An admin gets the validation's answers.
      expectProblem(await asAdmin({ method: "GET", path: "/tokens?limit=0" }), 422, "validation_failed");
      expectProblem(await asAdmin({ method: "PATCH", path: `/tokens/${randomUUID()}`, json: {} }), 405, "method_not_allowed");
    });

    it("a token made here works in its workspaces only", async () => {
      const made = await create({ name: "only W", scope: "workspace", workspaces: [W] });
      const client = app.client(W, made.token);
      const registry = await client.registries.create({ name: "Made with an API token", server: "ghcr.io", username: "u", password: "p" });
      expect(registry.name).toBe("Made with an API token");
      await expect(app.client(OTHER, made.token).registries.list()).rejects.toMatchObject({ status: 403, code: "workspace_forbidden" });
    });

    it("a provisioner token made here fetches pull credentials; an admin token may not", async () => {
      const admin = app.client(W);
      const registry = await admin.registries.create({ name: "For the provisioner", server: "ghcr.io", username: "robot", password: "pw" });
      const image = await admin.sandboxImages.create({ name: "Provisioned", image: "ghcr.io/acme/app", registry_id: registry.id });
      const provisioner = await create({ name: "provisioner", scope: "provisioner", workspaces: [W] });
      const credentials = await app.client(W, provisioner.token).provisioning.pullCredentials(image.id);
      expect(credentials.auth?.server).toBe("ghcr.io");
      const asAdminToken = await app.client(W, app.token).provisioning.pullCredentials(image.id).catch((e: unknown) => e);
      expect(asAdminToken).toMatchObject({ status: 403, code: "insufficient_scope" });
    });

    it("an admin token made here is a workspace token in every workspace", async () => {
      const admin = await create({ name: "admin everywhere", scope: "admin", all_workspaces: true });
      for (const workspace of [W, OTHER, freshWorkspaceId("never-seen")]) {
        const client = app.client(workspace, admin.token);
        await client.registries.create({ name: `Admin's in ${workspace}`, server: "ghcr.io", username: "u", password: "p" });
        expect((await client.registries.list()).data.length).toBeGreaterThan(0);
      }
    });
  });

  async function tokenCount(): Promise<number> {
    return Number(rowsOf(await app.database.db.execute(sql`select count(*) as n from api_tokens`))[0]!.n);
  }

  /** Every item of a list, following `next_cursor` (bounded, so a cursor that loops fails). */
  async function everyPage(path: string): Promise<TokenBody[]> {
    const items: TokenBody[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const res = await asAdmin({ method: "GET", path: cursor === null ? path : `${path}&cursor=${encodeURIComponent(cursor)}` });
      expect(res.status, res.text).toBe(200);
      const body = res.json as ListBody;
      items.push(...body.data);
      cursor = body.next_cursor;
      if (cursor === null) return items;
    }
    throw new Error("more than 100 pages: the cursor does not end");
  }
});
