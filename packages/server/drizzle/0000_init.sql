CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"scope" text DEFAULT 'workspace' NOT NULL,
	"workspace_ids" text[],
	"created_at" timestamp (3) with time zone NOT NULL,
	"last_used_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "api_tokens_token_hash_key" UNIQUE("token_hash"),
	CONSTRAINT "api_tokens_scope_check" CHECK (scope IN ('workspace', 'provisioner'))
);
--> statement-breakpoint
CREATE TABLE "registries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"name" text NOT NULL,
	"server" text NOT NULL,
	"username" text NOT NULL,
	"email" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"password_ciphertext" text,
	"password_key_id" text,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"deleted_at" timestamp (3) with time zone,
	CONSTRAINT "registries_workspace_id_id_key" UNIQUE("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "sandbox_images" (
	"id" uuid PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"name" text NOT NULL,
	"image" text NOT NULL,
	"tag" text NOT NULL,
	"registry_id" uuid,
	"description" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"memory_mb" integer NOT NULL,
	"ttl_seconds" integer,
	"readiness_port" integer,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sandbox_images" ADD CONSTRAINT "sandbox_images_registry_fkey" FOREIGN KEY ("workspace_id","registry_id") REFERENCES "public"."registries"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "registries_workspace_name_live_key" ON "registries" USING btree ("workspace_id","name") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "registries_list_idx" ON "registries" USING btree ("workspace_id","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "registries_list_server_idx" ON "registries" USING btree ("workspace_id","server","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "registries_list_enabled_idx" ON "registries" USING btree ("workspace_id","enabled","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "registries_password_key_id_idx" ON "registries" USING btree ("password_key_id");--> statement-breakpoint
CREATE INDEX "sandbox_images_list_idx" ON "sandbox_images" USING btree ("workspace_id","id");--> statement-breakpoint
CREATE INDEX "sandbox_images_list_registry_idx" ON "sandbox_images" USING btree ("workspace_id","registry_id","id");--> statement-breakpoint
CREATE INDEX "sandbox_images_list_enabled_idx" ON "sandbox_images" USING btree ("workspace_id","enabled","id");--> statement-breakpoint
CREATE UNIQUE INDEX "sandbox_images_one_default_key" ON "sandbox_images" USING btree ("workspace_id") WHERE is_default;