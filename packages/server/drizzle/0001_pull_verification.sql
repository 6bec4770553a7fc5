CREATE TABLE "pull_credential_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"image_id" uuid NOT NULL,
	"registry_id" uuid,
	"token_id" text NOT NULL,
	"outcome" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "registries" ADD COLUMN "ca_certificate" text;--> statement-breakpoint
ALTER TABLE "registries" ADD COLUMN "verification_status" text DEFAULT 'unverified' NOT NULL;--> statement-breakpoint
ALTER TABLE "registries" ADD COLUMN "verification_checked_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "registries" ADD COLUMN "verification_error_code" text;--> statement-breakpoint
ALTER TABLE "registries" ADD COLUMN "warnings" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "registries" ADD COLUMN "last_used_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "pull_credential_events_image_idx" ON "pull_credential_events" USING btree ("workspace_id","image_id","id");--> statement-breakpoint
ALTER TABLE "registries" ADD CONSTRAINT "registries_verification_status_check" CHECK (verification_status IN ('verified', 'failed', 'unverified'));