ALTER TABLE "registries" ADD COLUMN "provider" text;--> statement-breakpoint
ALTER TABLE "sandbox_images" ADD COLUMN "reference" text;--> statement-breakpoint
CREATE INDEX "registries_provider_missing_idx" ON "registries" USING btree ("id") WHERE provider IS NULL;--> statement-breakpoint
CREATE INDEX "sandbox_images_reference_missing_idx" ON "sandbox_images" USING btree ("id") WHERE reference IS NULL;