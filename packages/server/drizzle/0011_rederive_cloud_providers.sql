-- The provider of a stored server is now read by the same parsers as the cloud auth types
-- (registry-protocol/ecr-hosts.ts and azure-hosts.ts), which know every ECR host form (dual-stack
-- `dkr-ecr….on.aws`, isolated partitions) and ACR's sovereign clouds (`.azurecr.cn`,
-- `.azurecr.us`). Rows stored as `self_hosted` that may be one of those get their provider
-- cleared, and the app derives it again at the end of this start (fill-derived-columns.ts); a row
-- that is still self-hosted gets the same value back. `version` moves on for live candidates,
-- whose answer may change (an ETag must not keep an old provider); `updated_at` does not.
UPDATE "registries"
SET "provider" = NULL,
    "version" = CASE WHEN "deleted_at" IS NULL THEN "version" + 1 ELSE "version" END
WHERE "provider" = 'self_hosted'
  AND ("server" LIKE '%.dkr-ecr.%' OR "server" LIKE '%.dkr.ecr%' OR "server" LIKE '%.azurecr.%');
