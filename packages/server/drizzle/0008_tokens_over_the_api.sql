-- Tokens over the API (POST/GET/DELETE /tokens). A third scope, `admin`: it manages tokens and
-- may use the workspace routes. Admin tokens are always granted every workspace (the second
-- check), so an admin can never mint a token that holds more than it does. Stored tokens keep
-- their scope: nothing becomes admin by this migration. `created_by` records who made a token
-- from now on (a token id, `bootstrap`, `cli` or `first-start`); older rows keep NULL.
ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_scope_check";--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "created_by" text;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_admin_every_workspace_check" CHECK (scope <> 'admin' OR workspace_ids IS NULL);--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_scope_check" CHECK (scope IN ('workspace', 'provisioner', 'admin'));