import type { APIPromise } from "../api-promise.js";
import { paginate, type PagePromise } from "../pagination.js";
import type { RequestOptions } from "../request-options.js";
import { respond, unwrap } from "../response.js";
import type { Token, TokenCreate, TokenCreated, TokenListQuery } from "../types.js";
import type { ResourceContext } from "./context.js";

/**
 * API tokens: for a client whose token has the `admin` scope (others get
 * `PermissionDeniedError`, code `insufficient_scope`). Tokens are not workspace objects: these
 * calls ignore the client's workspace, and act on every token of the server.
 *
 * @example
 * ```ts
 * const admin = createClient({ baseUrl, token: process.env.MODBOX_ADMIN_TOKEN!, workspaceId: "acme" });
 * const { id, token } = await admin.tokens.create({ name: "ci", scope: "workspace", workspaces: ["acme"] });
 * // keep `token` in your secret store now: it is never shown again
 * await admin.tokens.delete(id); // refused by every server within a second
 * ```
 */
export class Tokens {
  readonly #ctx: ResourceContext;

  constructor(ctx: ResourceContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates a token and answers it **once**, in `token` (only its SHA-256 is stored). Grant
   * `workspaces`, or every workspace with `all_workspaces: true`; an `admin` token takes
   * `all_workspaces: true` only.
   *
   * **Not retried, and no `Idempotency-Key`**: the server would have to store the answer to
   * replay it, and the answer is the token. If the call fails without an answer
   * (`ConnectionError`), a token may have been created that nobody holds: find it by name with
   * `list` and `delete` it, then create another.
   *
   * @example
   * ```ts
   * const ci = await client.tokens.create({ name: "ci", scope: "workspace", workspaces: ["acme"] });
   * const ops = await client.tokens.create({ name: "ops", scope: "admin", all_workspaces: true });
   * console.log(ci.id, ci.token, ops.all_workspaces);
   * ```
   */
  create(body: TokenCreate, options?: RequestOptions): APIPromise<TokenCreated> {
    return respond(this.#ctx.raw.POST("/tokens", { body, ...this.#ctx.init(options) }));
  }

  /**
   * Lists tokens, newest first, revoked ones included unless `{ revoked: false }`. Await it for
   * one page, or iterate every token. Never the token itself.
   *
   * @example
   * ```ts
   * for await (const t of client.tokens.list({ revoked: false })) {
   *   console.log(t.id, t.name, t.scope, t.last_used_at);
   * }
   * ```
   */
  list(query: TokenListQuery = {}, options?: RequestOptions): PagePromise<Token> {
    return paginate(query, (q) =>
      unwrap(this.#ctx.raw.GET("/tokens", { params: { query: q }, ...this.#ctx.init(options) })),
    );
  }

  /**
   * Fetches one token (its grant, use and revocation; never the token). Throws `NotFoundError`
   * for an unknown id.
   *
   * @example
   * ```ts
   * const { scope, workspaces, revoked_at } = await client.tokens.get(id);
   * ```
   */
  get(id: string, options?: RequestOptions): APIPromise<Token> {
    return respond(
      this.#ctx.raw.GET("/tokens/{token_id}", {
        params: { path: { token_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }

  /**
   * Revokes the token: every server refuses it within a second. Revoking a revoked token
   * succeeds again (so a retried call is harmless); an unknown id throws `NotFoundError`. A token
   * may revoke itself.
   *
   * @example
   * ```ts
   * await client.tokens.delete(id);
   * ```
   */
  delete(id: string, options?: RequestOptions): APIPromise<void> {
    return respond(
      this.#ctx.raw.DELETE("/tokens/{token_id}", {
        params: { path: { token_id: id } },
        ...this.#ctx.init(options),
      }),
    );
  }
}
