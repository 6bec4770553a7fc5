-- Names are stored NFC-normalised from now on (src/services/names.ts). This brings the names of
-- live registries and of sandbox images stored before to the same form, so that the unique index on
-- live registry names compares normalised names for them too. The text stays canonically
-- equivalent (it looks the same); nothing is refused here: a name the new rules would refuse (an
-- invisible character, a space at an end) stays as stored until it is renamed.
--
-- Two spellings of one registry name may already be live in a workspace. Of each such group, the
-- registry already in NFC keeps its name, or else the oldest is normalised; the others keep their
-- stored names: renaming or dropping someone's registry is not a migration's call, and the
-- migration must not fail on the unique index. Their owners see two names that look alike and can
-- rename one.
--
-- `version` moves on with each rewritten name, since the answer for that row changes;
-- `updated_at` does not: nobody updated it. Deleted registries are left as they are: nothing
-- answers or compares their names.
--
-- normalize() and IS NFC NORMALIZED need a UTF8 database. On any other encoding this does nothing;
-- new names are normalised by the server whatever the database.
DO $$
BEGIN
  IF current_setting('server_encoding') <> 'UTF8' THEN
    RAISE NOTICE 'names left as stored: NFC normalisation needs a UTF8 database';
    RETURN;
  END IF;

  UPDATE "registries" AS r
  SET "name" = normalize(r."name", NFC), "version" = r."version" + 1
  FROM (
    SELECT "id", row_number() OVER (
      PARTITION BY "workspace_id", normalize("name", NFC)
      ORDER BY ("name" IS NFC NORMALIZED) DESC, "id"
    ) AS "rank"
    FROM "registries"
    WHERE "deleted_at" IS NULL
  ) AS "live"
  WHERE r."id" = "live"."id" AND "live"."rank" = 1 AND r."name" IS NOT NFC NORMALIZED;

  UPDATE "sandbox_images"
  SET "name" = normalize("name", NFC), "version" = "version" + 1
  WHERE "name" IS NOT NFC NORMALIZED;
END
$$;
