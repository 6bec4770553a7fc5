ALTER TABLE "registries" ADD COLUMN "verification_detail" text;--> statement-breakpoint
-- `verification_detail` (above): the explanation of the last login, written with its outcome by
-- `POST /verify` and `?verify=true` alike. Rows verified before keep NULL until their next check.
--
-- Servers are stored without their scheme's default port from now on (src/registry-protocol/
-- hosts.ts): `ghcr.io:443` is `ghcr.io`, so it is recognised as GHCR and serves `ghcr.io/…`
-- images. Every stored server is an https one (an `http://` prefix was stripped until now), so
-- only `:443` is dropped here; a stored `host:80` is https on port 80 and stays. As in the app,
-- a single-label name keeps its port (`myregistry:443`: without it, Docker reads the name as a
-- Docker Hub namespace), and Docker Hub's aliases become `docker.io`.
--
-- No uniqueness can break: only live names are unique per workspace, never servers, so two
-- registries may already share a server and simply keep doing so. `provider` is cleared for the
-- rewritten rows and derived again by the app's own code at the end of this start
-- (fill-derived-columns.ts). Stored `warnings` and the verification are left as they are (the
-- password cannot be read here to redo the provider rules: a credential that a GHCR or ECR rule
-- would now flag is flagged at its next write). `version` moves on for live rows, whose answer
-- changes; `updated_at` does not: nobody updated them. Tombstones are rewritten too (their
-- server is still shown to the images that used them) but keep their version.
UPDATE "registries"
SET "server" = CASE
      WHEN left("server", -4) IN ('docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com') THEN 'docker.io'
      ELSE left("server", -4)
    END,
    "provider" = NULL,
    "version" = CASE WHEN "deleted_at" IS NULL THEN "version" + 1 ELSE "version" END
WHERE "server" LIKE '%:443'
  AND (left("server", -4) LIKE '%.%' OR left("server", -4) LIKE '[%' OR left("server", -4) = 'localhost');
