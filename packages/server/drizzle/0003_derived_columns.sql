ALTER TABLE "registries" ADD COLUMN "provider" text;--> statement-breakpoint
ALTER TABLE "sandbox_images" ADD COLUMN "reference" text;