import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../client.js";
import { classifyDatabaseError } from "../errors.js";
import type { NewRegistry, RegistryPatch, RegistryRecord } from "../records.js";
import { providerOf } from "../derived-columns.js";
import { idempotencyKeys, registries } from "../schema.js";
import { backends, createTestDatabase, postgresAdminUrl, rowsOf, type TestDatabase } from "@modbox/testkit/databases";
import { freshWorkspaceId, uuidv7 } from "@modbox/testkit/ids";
import { createRegistryRepository, REGISTRY_NAME_UNIQUE } from "./registries.js";
import { FIXTURE_TIME as T0, justWrittenRecord, newRegistry } from "@modbox/testkit/fixtures";
import { walkPages } from "@modbox/testkit/paging";

const T1 = new Date("2025-01-03T03:04:05.999Z");
const T2 = new Date("2025-01-04T03:04:05.001Z");
/** Deletes whatever links the registry (the tests' way to make a tombstone). */
const FORCE = { force: true, listLimit: 0 };

/** The whole stored row, ciphertext included: only tests look at it this way. */
async function rawRow(db: Db, id: string) {
  const [row] = await db
    .select({
      name: registries.name,
      passwordCiphertext: registries.passwordCiphertext,
      passwordKeyId: registries.passwordKeyId,
      version: registries.version,
      deletedAt: registries.deletedAt,
      updatedAt: registries.updatedAt,
    })
    .from(registries)
    .where(eq(registries.id, id));
  return row;
}

/**
 * How the stored row holds the columns insert and update write, seen from SQL rather than through
 * drizzle's decoders: NULLs are SQL NULL (not jsonb 'null' or the text "null"), warnings a jsonb
 * array (not a JSON string), timestamps the instants given.
 */
async function storedShape(db: Db, id: string) {
  const [row] = await db
    .select({
      emailIsNull: sql<boolean>`${registries.email} IS NULL`,
      caIsNull: sql<boolean>`${registries.caCertificate} IS NULL`,
      checkedAtIsNull: sql<boolean>`${registries.verificationCheckedAt} IS NULL`,
      errorCodeIsNull: sql<boolean>`${registries.verificationErrorCode} IS NULL`,
      lastUsedAtIsNull: sql<boolean>`${registries.lastUsedAt} IS NULL`,
      warningsType: sql<string>`jsonb_typeof(${registries.warnings})`,
      warningsLength: sql<number>`jsonb_array_length(${registries.warnings})::int`,
      checkedAtMs: sql<string | null>`(extract(epoch from ${registries.verificationCheckedAt}) * 1000)::bigint::text`,
      lastUsedAtMs: sql<string | null>`(extract(epoch from ${registries.lastUsedAt}) * 1000)::bigint::text`,
      createdAtMs: sql<string>`(extract(epoch from ${registries.createdAt}) * 1000)::bigint::text`,
      updatedAtMs: sql<string>`(extract(epoch from ${registries.updatedAt}) * 1000)::bigint::text`,
    })
    .from(registries)
    .where(eq(registries.id, id));
  return row;
}

/** The stored `Idempotency-Key` row of a scope, read around the repositories. */
async function keyRow(db: Db, scope: { tokenId: string; workspaceId: string; key: string }) {
  const [row] = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.tokenId, scope.tokenId), eq(idempotencyKeys.workspaceId, scope.workspaceId), eq(idempotencyKeys.key, scope.key)));
  return row ?? null;
}

describe.each(backends)("registry repository on %s", (backend) => {
  let testDb: TestDatabase;
  let db: Db;
  let repo: ReturnType<typeof createRegistryRepository>;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    db = testDb.handle.db;
    repo = createRegistryRepository(db);
  });
  afterAll(() => testDb?.dispose());

  it("inserts and finds a record without the ciphertext", async () => {
    const ws = freshWorkspaceId();
    const row = newRegistry(ws, { email: null });
    const expected = justWrittenRecord(row);

    expect(await repo.insert(row)).toStrictEqual(expected);
    expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
    expect((await repo.findForUse(ws, row.id))?.passwordCiphertext).toBe(row.passwordCiphertext);
  });

  it("answers null for a missing id", async () => {
    expect(await repo.findById(freshWorkspaceId(), uuidv7())).toBeNull();
  });

  describe("another workspace's registry is invisible and untouched", () => {
    it.each([
      ["findById", (ws: string, id: string) => repo.findById(ws, id), null],
      ["findForUse", (ws: string, id: string) => repo.findForUse(ws, id), null],
      [
        "update",
        (ws: string, id: string) => repo.update(ws, id, 1, { name: "stolen", enabled: false, updatedAt: T1 }),
        null,
      ],
      [
        "softDeleteUnlessLinked",
        async (ws: string, id: string) => (await repo.softDeleteUnlessLinked(ws, id, T1, FORCE)).outcome,
        "not_found",
      ],
    ] as const)("%s", async (_, operation, answer) => {
      const owner = freshWorkspaceId();
      const row = newRegistry(owner);
      const before = await repo.insert(row);

      expect(await operation(freshWorkspaceId(), row.id)).toBe(answer);

      expect(await repo.findById(owner, row.id)).toStrictEqual(before);
      expect(await rawRow(db, row.id)).toMatchObject({
        passwordCiphertext: row.passwordCiphertext,
        version: 1,
        deletedAt: null,
      });
    });

    it("list", async () => {
      const owner = freshWorkspaceId();
      await repo.insert(newRegistry(owner));
      expect(await repo.list(freshWorkspaceId(), { limit: 10 })).toEqual([]);
    });
  });

  describe("list", () => {
    const ws = freshWorkspaceId();
    // Created oldest first; ids are UUIDv7, so newest first is the reverse.
    const rows = [
      newRegistry(ws, { server: "ghcr.io", enabled: true }),
      newRegistry(ws, { server: "docker.io", enabled: true }),
      newRegistry(ws, { server: "ghcr.io", enabled: false }),
      newRegistry(ws, { server: "ghcr.io", enabled: true }),
      newRegistry(ws, { server: "docker.io", enabled: false }),
      newRegistry(ws, { server: "ghcr.io", enabled: true }),
      newRegistry(ws, { server: "ghcr.io", enabled: true }),
    ];
    const newestFirst = (keep: (r: NewRegistry) => boolean) =>
      rows.filter(keep).map((r) => r.id).reverse();

    beforeAll(async () => {
      for (const row of rows) await repo.insert(row);
      // Noise: another workspace, and a deleted registry in this one.
      await repo.insert(newRegistry(freshWorkspaceId(), { server: "ghcr.io" }));
      const deleted = await repo.insert(newRegistry(ws, { server: "ghcr.io" }));
      await repo.softDeleteUnlessLinked(ws, deleted.id, T1, FORCE);
    });

    /** Every page's ids; never more pages than rows (a cursor that does not advance fails). */
    async function allPages(q: { server?: string; enabled?: boolean }, limit: number) {
      const pages = await walkPages<RegistryRecord>((last) => repo.list(ws, { ...q, limit, ...(last && { beforeId: last.id }) }), rows.length);
      return pages.map((page) => page.map((r) => r.id));
    }

    it("pages newest first with a keyset", async () => {
      const pages = await allPages({}, 3);
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(newestFirst(() => true));
    });

    it.each([
      [{ server: "ghcr.io" }, (r: NewRegistry) => r.server === "ghcr.io"],
      [{ enabled: false }, (r: NewRegistry) => !r.enabled],
      [{ server: "ghcr.io", enabled: true }, (r: NewRegistry) => r.server === "ghcr.io" && r.enabled],
    ])("pages with filter %o", async (q, keep) => {
      expect((await allPages(q, 2)).flat()).toEqual(newestFirst(keep));
    });

    it("returns records without the ciphertext", async () => {
      const [first] = await repo.list(ws, { limit: 1 });
      expect(Object.keys(first!).sort()).toEqual(
        [
          "authType",
          "caCertificate",
          "createdAt",
          "email",
          "enabled",
          "id",
          "lastUsedAt",
          "name",
          "provider",
          "server",
          "updatedAt",
          "username",
          "verificationCheckedAt",
          "verificationDetail",
          "verificationErrorCode",
          "verificationStatus",
          "version",
          "warnings",
          "workspaceId",
        ],
      );
    });
  });

  describe("update", () => {
    it("changes only the given fields and bumps the version", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));

      const updated = await repo.update(ws, row.id, 1, { enabled: false, updatedAt: T1 });

      expect(updated).toStrictEqual({ ...row, enabled: false, updatedAt: T1, version: 2 });
      expect(await rawRow(db, row.id)).toMatchObject({ version: 2, passwordKeyId: "k1" });
    });

    it("clears the email with null and replaces the credential", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));

      await repo.update(ws, row.id, 1, {
        email: null,
        passwordCiphertext: "v1:k2:new",
        passwordKeyId: "k2",
        updatedAt: T1,
      });

      expect((await repo.findById(ws, row.id))!.email).toBeNull();
      expect((await repo.findForUse(ws, row.id))?.passwordCiphertext).toBe("v1:k2:new");
      expect(await rawRow(db, row.id)).toMatchObject({ passwordKeyId: "k2", version: 2 });
    });
  });

  describe("verification, CA, warnings and last use", () => {
    const CA = "-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n";
    const warning = { code: "ghcr_token_format", field: "password" as const, message: "a rule" };

    it("stores and returns what insert is given", async () => {
      const ws = freshWorkspaceId();
      const row = newRegistry(ws, {
        caCertificate: CA,
        warnings: [warning],
        verificationStatus: "failed",
        verificationCheckedAt: T0,
        verificationErrorCode: "registry_unreachable",
        verificationDetail: "127.0.0.1:9: the connection was refused",
        lastUsedAt: T1,
      });
      const { passwordCiphertext: _c, passwordKeyId: _k, ...fields } = row;
      const expected = { ...fields, authType: "basic", provider: "ghcr", version: 1 };
      expect(await repo.insert(row)).toStrictEqual(expected);
      expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
    });

    it("update writes the CA, the warnings and the verification, and bumps the version", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const updated = await repo.update(ws, row.id, 1, {
        caCertificate: CA,
        warnings: [warning],
        verificationStatus: "verified",
        verificationCheckedAt: T1,
        verificationErrorCode: null,
        updatedAt: T1,
      });
      expect(updated).toStrictEqual({
        ...row,
        caCertificate: CA,
        warnings: [warning],
        verificationStatus: "verified",
        verificationCheckedAt: T1,
        updatedAt: T1,
        version: 2,
      });
      expect(await rawRow(db, row.id)).toMatchObject({ version: 2 });
      // null clears the CA; fields left out keep their value.
      const cleared = await repo.update(ws, row.id, 2, { caCertificate: null, updatedAt: T1 });
      expect(cleared).toStrictEqual({ ...updated, caCertificate: null, version: 3 });
    });

    it("the database refuses a verification status outside verified | failed | unverified", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const err = await repo
        .update(ws, row.id, 1, { verificationStatus: "maybe" as "verified", updatedAt: T1 })
        .catch((e: unknown) => e);
      expect(classifyDatabaseError(err)).toEqual({ kind: "other", sqlstate: "23514" });
    });

    it("recordVerification changes only the verification: no version bump, updated_at kept", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const checked = (await repo.findForUse(ws, row.id))!;
      const state = { verificationStatus: "failed", verificationCheckedAt: T1, verificationErrorCode: "invalid_credentials", verificationDetail: "ghcr.io: the registry refused the credentials (GET /v2/ answered 401)" } as const;
      expect(await repo.recordVerification(ws, row.id, checked, state)).toStrictEqual({ ...row, ...state });
      expect(await rawRow(db, row.id)).toMatchObject({ version: 1, updatedAt: T0 });
      expect(await repo.recordVerification(freshWorkspaceId(), row.id, checked, state)).toBeNull();
      await repo.softDeleteUnlessLinked(ws, row.id, T1, FORCE);
      expect(await repo.recordVerification(ws, row.id, checked, state)).toBeNull();
    });

    it("recordVerification records nothing once the checked credential was replaced", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws, { caCertificate: CA }));
      const checked = (await repo.findForUse(ws, row.id))!;
      const state = { verificationStatus: "verified", verificationCheckedAt: T1, verificationErrorCode: null, verificationDetail: null } as const;
      // Each part of the credential, changed on its own, makes the proof stale.
      for (const changed of [
        { server: "other.example.com" },
        { username: "someone-else" },
        { caCertificate: null },
        { passwordCiphertext: "v1:k2:another" },
      ]) {
        expect(await repo.recordVerification(ws, row.id, { ...checked, ...changed }, state)).toBeNull();
      }
      expect(await repo.findById(ws, row.id)).toStrictEqual(row);
      // The unchanged credential records.
      expect(await repo.recordVerification(ws, row.id, checked, state)).toStrictEqual({ ...row, ...state });
    });

    it("touchLastUsed sets last_used_at, never moves it backwards, and ignores other workspaces", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      await repo.touchLastUsed(freshWorkspaceId(), row.id, T1);
      expect((await repo.findById(ws, row.id))!.lastUsedAt).toBeNull();
      await repo.touchLastUsed(ws, row.id, T0);
      expect((await repo.findById(ws, row.id))!.lastUsedAt).toEqual(T0);
      await repo.touchLastUsed(ws, row.id, T1);
      expect((await repo.findById(ws, row.id))!.lastUsedAt).toEqual(T1);
      await repo.touchLastUsed(ws, row.id, T0);
      expect((await repo.findById(ws, row.id))!.lastUsedAt).toEqual(T1);
      expect(await rawRow(db, row.id)).toMatchObject({ version: 1, updatedAt: T0 });
    });

    it("findForUse sees tombstones (without their credential), never another workspace's registry", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const live = await repo.findForUse(ws, row.id);
      expect(live).toStrictEqual({ ...row, deletedAt: null, passwordCiphertext: `v1:k1:ciphertext-${row.id}` });
      expect(await repo.findForUse(freshWorkspaceId(), row.id)).toBeNull();
      await repo.softDeleteUnlessLinked(ws, row.id, T1, FORCE);
      expect(await repo.findForUse(ws, row.id)).toStrictEqual({ ...row, updatedAt: T1, deletedAt: T1, passwordCiphertext: null, version: 2 });
    });
  });

  describe("insert and update bind every column (prepared statements)", () => {
    const warnings = [
      { code: "ghcr_token_format", field: "password" as const, message: "a rule" },
      { code: "docker_hub_email", field: "username" as const, message: "another, with \"quotes\" and é" },
    ];

    it("insert stores every column, and reads back what it stored", async () => {
      const ws = freshWorkspaceId();
      const row = newRegistry(ws, {
        caCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
        warnings,
        verificationStatus: "verified",
        verificationCheckedAt: T1,
        verificationErrorCode: "anonymous_registry",
        verificationDetail: "The registry allows anonymous access, so these credentials cannot be proven.",
        lastUsedAt: new Date("2025-01-04T00:00:00.001Z"),
        authType: "aws_ecr",
      });
      const { passwordCiphertext: _c, passwordKeyId: _k, ...fields } = row;
      const expected = { ...fields, provider: "ghcr", version: 1 };

      expect(await repo.insert(row)).toStrictEqual(expected);
      expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
      expect(await repo.findForUse(ws, row.id)).toStrictEqual({ ...expected, deletedAt: null, passwordCiphertext: row.passwordCiphertext });
      expect(await storedShape(db, row.id)).toStrictEqual({
        emailIsNull: false,
        caIsNull: false,
        checkedAtIsNull: false,
        errorCodeIsNull: false,
        lastUsedAtIsNull: false,
        warningsType: "array",
        warningsLength: 2,
        checkedAtMs: String(T1.getTime()),
        lastUsedAtMs: String(row.lastUsedAt!.getTime()),
        createdAtMs: String(T0.getTime()),
        updatedAtMs: String(T0.getTime()),
      });
      expect(await rawRow(db, row.id)).toMatchObject({ passwordKeyId: "k1", version: 1, deletedAt: null });
    });

    it("insert writes SQL NULLs and an empty jsonb array for what is left out", async () => {
      const ws = freshWorkspaceId();
      const row = newRegistry(ws, { email: null });
      await repo.insert(row);
      expect(await storedShape(db, row.id)).toStrictEqual({
        emailIsNull: true,
        caIsNull: true,
        checkedAtIsNull: true,
        errorCodeIsNull: true,
        lastUsedAtIsNull: true,
        warningsType: "array",
        warningsLength: 0,
        checkedAtMs: null,
        lastUsedAtMs: null,
        createdAtMs: String(T0.getTime()),
        updatedAtMs: String(T0.getTime()),
      });
    });

    it("update: several shapes in a row, one repeated after others; each writes its fields only and bumps the version by one", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(
        newRegistry(ws, { caCertificate: "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n", warnings }),
      );
      const T = (n: number) => new Date(T1.getTime() + n * 1000);
      const steps: RegistryPatch[] = [
        { enabled: false, updatedAt: T(1) },
        { email: null, caCertificate: null, updatedAt: T(2) },
        { name: "renamed", server: "registry.example.com", username: "other", updatedAt: T(3) },
        // A rotation, as the service sends it: new credential, fresh warnings, never verified.
        {
          passwordCiphertext: "v1:k2:rotated",
          passwordKeyId: "k2",
          warnings: [],
          verificationStatus: "unverified",
          verificationCheckedAt: null,
          verificationErrorCode: null,
          updatedAt: T(4),
        },
        {
          verificationStatus: "failed",
          verificationCheckedAt: T(5),
          verificationErrorCode: "invalid_credentials",
          verificationDetail: "the registry refused the credentials",
          updatedAt: T(5),
        },
        { enabled: true, updatedAt: T(6) }, // the first shape again
        { email: "back@example.com", caCertificate: "-----BEGIN CERTIFICATE-----\nca2\n-----END CERTIFICATE-----\n", warnings, updatedAt: T(7) },
        { email: null, caCertificate: null, updatedAt: T(8) }, // the second shape again
      ];
      let expected: RegistryRecord = row;
      for (const [i, patch] of steps.entries()) {
        const { passwordCiphertext: _c, passwordKeyId: _k, ...fields } = patch;
        // A new server brings its provider, derived once on the write.
        expected = {
          ...expected,
          ...fields,
          ...(fields.server !== undefined && { provider: providerOf(fields.server) }),
          version: i + 2,
        };
        expect(await repo.update(ws, row.id, i + 1, patch)).toStrictEqual(expected);
        expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
        expect(await rawRow(db, row.id)).toMatchObject({ version: i + 2, updatedAt: patch.updatedAt });
      }
      expect(await rawRow(db, row.id)).toMatchObject({ passwordCiphertext: "v1:k2:rotated", passwordKeyId: "k2" });
      expect(await storedShape(db, row.id)).toMatchObject({
        emailIsNull: true,
        caIsNull: true,
        warningsType: "array",
        warningsLength: 2,
        checkedAtMs: String(T(5).getTime()),
      });
      // Setting a nullable timestamp to null writes NULL.
      await repo.update(ws, row.id, steps.length + 1, { verificationCheckedAt: null, updatedAt: T(9) });
      expect(await storedShape(db, row.id)).toMatchObject({ checkedAtIsNull: true, checkedAtMs: null });
    });

    it("update: more shapes than are prepared still each write exactly their fields", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      // Every subset of six fields: 64 shapes, more than the repository keeps prepared.
      const values = (n: number): Omit<RegistryPatch, "updatedAt"> => ({
        name: `name-${n}`,
        username: `user-${n}`,
        email: n % 2 ? null : `e${n}@example.com`,
        enabled: n % 2 === 0,
        caCertificate: n % 3 ? null : `ca-${n}`,
        verificationErrorCode: n % 2 ? (["invalid_credentials", "registry_error", "tls_error"] as const)[n % 3]! : null,
      });
      const keys = Object.keys(values(0)) as (keyof ReturnType<typeof values>)[];
      let expected: RegistryRecord = row;
      for (let shape = 0; shape < 1 << keys.length; shape++) {
        const all = values(shape);
        const patch: RegistryPatch = { updatedAt: new Date(T1.getTime() + shape) };
        keys.forEach((key, bit) => {
          if (shape & (1 << bit)) Object.assign(patch, { [key]: all[key] });
        });
        expected = { ...expected, ...patch, version: shape + 2 };
        expect(await repo.update(ws, row.id, shape + 1, patch)).toStrictEqual(expected);
      }
      expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
      expect(await rawRow(db, row.id)).toMatchObject({ version: 65, passwordKeyId: "k1" });
    });

    it("update of a deleted registry answers null and changes nothing", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      await repo.softDeleteUnlessLinked(ws, row.id, T1, FORCE);
      const before = await rawRow(db, row.id);

      expect(
        await repo.update(ws, row.id, 1, {
          name: "revived",
          passwordCiphertext: "v1:k2:rotated",
          passwordKeyId: "k2",
          verificationStatus: "unverified",
          verificationCheckedAt: null,
          verificationErrorCode: null,
          warnings: [],
          updatedAt: new Date(T1.getTime() + 1000),
        }),
      ).toBeNull();
      expect(await repo.update(ws, row.id, 2, { email: null, updatedAt: new Date(T1.getTime() + 2000) })).toBeNull();

      expect(await rawRow(db, row.id)).toStrictEqual(before);
      expect(before).toMatchObject({ passwordCiphertext: null, version: 2 });
    });

    it("update at a version the row has left answers null and changes nothing (compare-and-set)", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      await repo.update(ws, row.id, 1, { name: "first", updatedAt: T1 });
      const before = await rawRow(db, row.id);

      expect(await repo.update(ws, row.id, 1, { name: "second", updatedAt: T1 })).toBeNull();
      expect(await repo.update(ws, row.id, 3, { name: "second", updatedAt: T1 })).toBeNull();

      expect(await rawRow(db, row.id)).toStrictEqual(before);
      expect(await repo.update(ws, row.id, 2, { name: "second", updatedAt: T1 })).toMatchObject({ name: "second", version: 3 });
    });

    it("softDeleteUnlessLinked checks the version under the row lock: a mismatch names the current one and deletes nothing", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      await repo.update(ws, row.id, 1, { name: "moved", updatedAt: T1 });

      expect(await repo.softDeleteUnlessLinked(ws, row.id, T1, { ...FORCE, ifVersion: (v) => v === 1 })).toEqual({
        outcome: "version_mismatch",
        version: 2,
      });
      expect(await repo.findById(ws, row.id)).toMatchObject({ version: 2 });
      expect(await repo.softDeleteUnlessLinked(ws, row.id, T1, { ...FORCE, ifVersion: (v) => v === 2 })).toEqual({ outcome: "deleted" });
    });

    it("update of a missing id answers null", async () => {
      expect(await repo.update(freshWorkspaceId(), uuidv7(), 1, { enabled: false, updatedAt: T1 })).toBeNull();
    });

    it("recordVerification writes a null checked-at as NULL", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws, { verificationStatus: "verified", verificationCheckedAt: T0 }));
      const state = { verificationStatus: "unverified", verificationCheckedAt: null, verificationErrorCode: null, verificationDetail: null } as const;
      expect(await repo.recordVerification(ws, row.id, (await repo.findForUse(ws, row.id))!, state)).toStrictEqual({ ...row, ...state });
      expect(await storedShape(db, row.id)).toMatchObject({ checkedAtIsNull: true, errorCodeIsNull: true });
    });
  });

  describe("unique name per workspace", () => {
    it("refuses a second live registry with the name, naming the index", async () => {
      const ws = freshWorkspaceId();
      await repo.insert(newRegistry(ws, { name: "prod" }));

      const err = await repo.insert(newRegistry(ws, { name: "prod" })).catch((e: unknown) => e);

      expect(classifyDatabaseError(err)).toEqual({
        kind: "unique_violation",
        constraint: REGISTRY_NAME_UNIQUE,
      });
      // The prepared insert keeps working after the failure (same error again, then a success).
      const again = await repo.insert(newRegistry(ws, { name: "prod" })).catch((e: unknown) => e);
      expect(classifyDatabaseError(again)).toEqual({ kind: "unique_violation", constraint: REGISTRY_NAME_UNIQUE });
      await expect(repo.insert(newRegistry(ws, { name: "prod-2" }))).resolves.toMatchObject({ name: "prod-2" });
      expect((await repo.list(ws, { limit: 10 })).map((r) => r.name)).toEqual(["prod-2", "prod"]);
    });

    it("refuses a rename onto a taken name", async () => {
      const ws = freshWorkspaceId();
      await repo.insert(newRegistry(ws, { name: "prod" }));
      const other = await repo.insert(newRegistry(ws, { name: "staging" }));

      const err = await repo
        .update(ws, other.id, 1, { name: "prod", updatedAt: T1 })
        .catch((e: unknown) => e);

      expect(classifyDatabaseError(err)).toEqual({
        kind: "unique_violation",
        constraint: REGISTRY_NAME_UNIQUE,
      });
    });

    it("allows the same name in another workspace", async () => {
      await repo.insert(newRegistry(freshWorkspaceId(), { name: "prod" }));
      await expect(repo.insert(newRegistry(freshWorkspaceId(), { name: "prod" }))).resolves.toBeTruthy();
    });
  });

  describe("softDeleteUnlessLinked without force", () => {
    it("deletes a registry no image uses", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws, { name: "prod" }));

      expect(await repo.softDeleteUnlessLinked(ws, row.id, T1, { force: false, listLimit: 10 })).toEqual({ outcome: "deleted" });

      expect(await repo.findById(ws, row.id)).toBeNull();
      expect(await rawRow(db, row.id)).toMatchObject({ passwordCiphertext: null, version: 2, deletedAt: T1 });
    });
  });

  describe("softDeleteUnlessLinked with force", () => {
    it("hides the registry, wipes the credential and frees the name", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws, { name: "prod" }));

      expect(await repo.softDeleteUnlessLinked(ws, row.id, T1, FORCE)).toEqual({ outcome: "deleted" });

      expect(await rawRow(db, row.id)).toEqual({
        name: "prod",
        passwordCiphertext: null,
        passwordKeyId: null,
        version: 2,
        deletedAt: T1,
        updatedAt: T1,
      });
      expect(await repo.findById(ws, row.id)).toBeNull();
      expect((await repo.findForUse(ws, row.id))?.passwordCiphertext).toBeNull();
      expect(await repo.list(ws, { limit: 10 })).toEqual([]);
      expect(await repo.update(ws, row.id, 2, { enabled: false, updatedAt: T1 })).toBeNull();
      expect(await repo.softDeleteUnlessLinked(ws, row.id, T1, FORCE)).toEqual({ outcome: "not_found" });
      await expect(repo.insert(newRegistry(ws, { name: "prod" }))).resolves.toMatchObject({ name: "prod" });
    });
  });

  describe("list by server", () => {
    it("answers the server and the repository prefixes under it, never a host that only starts alike", async () => {
      const ws = freshWorkspaceId();
      const bare = await repo.insert(newRegistry(ws, { server: "ghcr.io" }));
      const team = await repo.insert(newRegistry(ws, { server: "ghcr.io/acme" }));
      await repo.insert(newRegistry(ws, { server: "ghcr.io.example.com" }));
      await repo.insert(newRegistry(ws, { server: "ghcr.iox" }));
      const nested = await repo.insert(newRegistry(ws, { server: "ghcr.io/acme/tools" }));
      await repo.insert(newRegistry(ws, { server: "docker.io" }));
      await repo.insert(newRegistry(freshWorkspaceId(), { server: "ghcr.io/acme" }));
      const deleted = await repo.insert(newRegistry(ws, { server: "ghcr.io/acme" }));
      await repo.softDeleteUnlessLinked(ws, deleted.id, T1, FORCE);

      expect((await repo.list(ws, { server: "ghcr.io", limit: 10 })).map((r) => r.id)).toStrictEqual([nested.id, team.id, bare.id]);
      expect((await repo.list(ws, { server: "ghcr.io/acme", limit: 10 })).map((r) => r.id)).toStrictEqual([nested.id, team.id]);
      expect((await repo.list(ws, { server: "ghcr.io", limit: 10, beforeId: team.id })).map((r) => r.id)).toStrictEqual([bare.id]);
    });
  });

  describe("insertClaimingKey", () => {
    const claim = { fingerprint: "fp-create", leaseUntil: T1, createdAt: T0, expiresAt: T2 };
    const answerOf = (record: RegistryRecord) => ({
      status: 201,
      headers: { "content-type": "application/json", etag: `"${record.version}"`, location: `/v1/registries/${record.id}` },
      body: JSON.stringify({ id: record.id, name: record.name, provider: record.provider }),
    });
    const scopeIn = (workspaceId: string) => ({ tokenId: "tok-create", workspaceId, key: `key-${uuidv7()}` });

    it("inserts the registry and its answered key together, and answers the record with its answer", async () => {
      const ws = freshWorkspaceId();
      const row = newRegistry(ws, { email: null });
      const scope = scopeIn(ws);
      const expected = justWrittenRecord(row);

      const created = await repo.insertClaimingKey(row, { scope, claim, answerOf });

      expect(created).toStrictEqual({ record: expected, answer: answerOf(expected) });
      expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
      expect(await rawRow(db, row.id)).toStrictEqual({
        name: row.name,
        passwordCiphertext: row.passwordCiphertext,
        passwordKeyId: "k1",
        version: 1,
        deletedAt: null,
        updatedAt: T0,
      });
      expect(await keyRow(db, scope)).toStrictEqual({
        ...scope,
        ...claim,
        state: "answered",
        responseStatus: 201,
        responseHeaders: answerOf(expected).headers,
        responseBody: answerOf(expected).body,
      });
    });

    it("stores every column it is given, as insert does", async () => {
      const ws = freshWorkspaceId();
      const row = newRegistry(ws, {
        server: "registry.example.com",
        caCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
        warnings: [{ code: "ghcr_token_format", field: "password", message: "a rule" }],
        verificationStatus: "failed",
        verificationCheckedAt: T1,
        verificationErrorCode: "invalid_credentials",
        verificationDetail: "the registry refused the credentials",
        lastUsedAt: T2,
        authType: "aws_ecr",
      });
      const { passwordCiphertext: _c, passwordKeyId: _k, ...fields } = row;
      const expected = { ...fields, provider: providerOf("registry.example.com"), version: 1 };

      expect((await repo.insertClaimingKey(row, { scope: scopeIn(ws), claim, answerOf }))?.record).toStrictEqual(expected);

      expect(await repo.findForUse(ws, row.id)).toStrictEqual({ ...expected, deletedAt: null, passwordCiphertext: row.passwordCiphertext });
      expect(await storedShape(db, row.id)).toMatchObject({ warningsType: "array", warningsLength: 1, checkedAtMs: String(T1.getTime()) });
    });

    it("writes nothing and answers null when the key exists already", async () => {
      const ws = freshWorkspaceId();
      const scope = scopeIn(ws);
      const first = await repo.insertClaimingKey(newRegistry(ws), { scope, claim, answerOf });
      const stored = await keyRow(db, scope);
      const second = newRegistry(ws);

      expect(await repo.insertClaimingKey(second, { scope, claim: { ...claim, fingerprint: "fp-other" }, answerOf })).toBeNull();

      expect(await repo.findById(ws, second.id)).toBeNull();
      expect(await rawRow(db, second.id)).toBeUndefined();
      expect(await keyRow(db, scope)).toStrictEqual(stored);
      expect((await repo.list(ws, { limit: 10 })).map((r) => r.id)).toStrictEqual([first!.record.id]);
    });

    it("claims a key of the same name held by another token", async () => {
      const ws = freshWorkspaceId();
      const scope = scopeIn(ws);
      await repo.insertClaimingKey(newRegistry(ws), { scope, claim, answerOf });
      const row = newRegistry(ws);

      expect(await repo.insertClaimingKey(row, { scope: { ...scope, tokenId: "tok-other" }, claim, answerOf })).toMatchObject({ record: { id: row.id } });
      expect(await repo.findById(ws, row.id)).toMatchObject({ id: row.id });
    });

    it("throws the unique violation on a taken name, and claims no key", async () => {
      const ws = freshWorkspaceId();
      await repo.insert(newRegistry(ws, { name: "prod" }));
      const scope = scopeIn(ws);

      const err = await repo.insertClaimingKey(newRegistry(ws, { name: "prod" }), { scope, claim, answerOf }).catch((e: unknown) => e);

      expect(classifyDatabaseError(err)).toEqual({ kind: "unique_violation", constraint: REGISTRY_NAME_UNIQUE });
      expect(await keyRow(db, scope)).toBeNull();
      // The key is free: the retry under another name claims it.
      expect(await repo.insertClaimingKey(newRegistry(ws, { name: "prod-2" }), { scope, claim, answerOf })).toMatchObject({ record: { name: "prod-2" } });
    });
  });

  describe("a repository's own statements, built when it is created", () => {
    // A test of its own repository: the statements are built by createRegistryRepository, and
    // the mutation run credits what runs in a hook (the shared `repo`) to no test.
    it("a new repository inserts, claims a key with its insert, finds, lists every filter combination, updates and deletes", async () => {
      const fresh = createRegistryRepository(db);
      const ws = freshWorkspaceId();
      const plain = newRegistry(ws, { server: "ghcr.io", enabled: false });
      const keyed = newRegistry(ws, { server: "ghcr.io/acme", email: null });
      const scope = { tokenId: "tok-fresh", workspaceId: ws, key: `key-${uuidv7()}` };
      const claim = { fingerprint: "fp-fresh", leaseUntil: T1, createdAt: T0, expiresAt: T2 };
      const answerOf = (record: RegistryRecord) => ({ status: 201, headers: { etag: `"${record.version}"` }, body: record.id });
      const second = justWrittenRecord(keyed);

      const first = await fresh.insert(plain);
      expect(await fresh.insertClaimingKey(keyed, { scope, claim, answerOf })).toStrictEqual({ record: second, answer: answerOf(second) });

      expect(await keyRow(db, scope)).toStrictEqual({
        ...scope,
        ...claim,
        state: "answered",
        responseStatus: 201,
        responseHeaders: { etag: '"1"' },
        responseBody: keyed.id,
      });
      expect(await rawRow(db, keyed.id)).toStrictEqual({
        name: keyed.name,
        passwordCiphertext: keyed.passwordCiphertext,
        passwordKeyId: "k1",
        version: 1,
        deletedAt: null,
        updatedAt: T0,
      });
      expect(await fresh.findById(ws, first.id)).toStrictEqual(first);
      expect(await fresh.findById(ws, keyed.id)).toStrictEqual(second);
      expect(await fresh.findById(freshWorkspaceId(), keyed.id)).toBeNull();
      expect(await fresh.findForUse(ws, keyed.id)).toStrictEqual({ ...second, deletedAt: null, passwordCiphertext: keyed.passwordCiphertext });
      expect(await fresh.findForUse(freshWorkspaceId(), keyed.id)).toBeNull();

      // Newest first: [keyed, first]. Each combination of (server, enabled, cursor) is its own statement.
      const lists: [Omit<Parameters<typeof fresh.list>[1], "limit">, string[]][] = [
        [{}, [keyed.id, first.id]],
        [{ server: "ghcr.io/acme" }, [keyed.id]],
        [{ enabled: false }, [first.id]],
        [{ beforeId: keyed.id }, [first.id]],
        [{ server: "ghcr.io", enabled: true }, [keyed.id]],
        [{ server: "ghcr.io", beforeId: keyed.id }, [first.id]],
        [{ enabled: true, beforeId: keyed.id }, []],
        [{ server: "ghcr.io", enabled: false, beforeId: keyed.id }, [first.id]],
      ];
      for (const [q, ids] of lists) expect((await fresh.list(ws, { ...q, limit: 10 })).map((r) => r.id)).toStrictEqual(ids);

      expect(await fresh.update(ws, first.id, 1, { enabled: true, updatedAt: T1 })).toStrictEqual({ ...first, enabled: true, updatedAt: T1, version: 2 });
      expect(await fresh.softDeleteUnlessLinked(ws, first.id, T2, FORCE)).toEqual({ outcome: "deleted" });
      expect(await fresh.findById(ws, first.id)).toBeNull();
      expect(await fresh.findForUse(ws, first.id)).toMatchObject({ deletedAt: T2, passwordCiphertext: null, version: 3 });
      expect((await fresh.list(ws, { limit: 10 })).map((r) => r.id)).toStrictEqual([keyed.id]);
    });
  });

  describe("updateLocked", () => {
    it("hands plan the live row with its sealed password, and writes its patch at that row's version", async () => {
      const ws = freshWorkspaceId();
      const row = newRegistry(ws);
      await repo.insert(row);
      const moved = (await repo.update(ws, row.id, 1, { name: "moved", updatedAt: T1 }))!;
      const seen: unknown[] = [];

      const updated = await repo.updateLocked(ws, row.id, (current) => {
        seen.push(current);
        return { server: "registry.example.com", username: "other", updatedAt: T2 };
      });

      expect(seen).toStrictEqual([{ ...moved, deletedAt: null, passwordCiphertext: row.passwordCiphertext }]);
      const expected = { ...moved, server: "registry.example.com", provider: providerOf("registry.example.com"), username: "other", updatedAt: T2, version: 3 };
      expect(updated).toStrictEqual(expected);
      expect(await repo.findById(ws, row.id)).toStrictEqual(expected);
      expect(await rawRow(db, row.id)).toMatchObject({ passwordCiphertext: row.passwordCiphertext, passwordKeyId: "k1", version: 3 });
    });

    it("keeps the provider when the patch leaves the server alone", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws, { server: "registry.example.com" }));

      expect(await repo.updateLocked(ws, row.id, () => ({ enabled: false, updatedAt: T1 }))).toStrictEqual({ ...row, enabled: false, updatedAt: T1, version: 2 });
    });

    it("answers null without calling plan for a missing, deleted or foreign registry", async () => {
      const ws = freshWorkspaceId();
      const deleted = await repo.insert(newRegistry(ws));
      await repo.softDeleteUnlessLinked(ws, deleted.id, T1, FORCE);
      const foreign = await repo.insert(newRegistry(freshWorkspaceId()));
      const planned: string[] = [];
      const plan = (current: { id: string }) => {
        planned.push(current.id);
        return { name: "stolen", updatedAt: T2 };
      };

      expect(await repo.updateLocked(ws, uuidv7(), plan)).toBeNull();
      expect(await repo.updateLocked(ws, deleted.id, plan)).toBeNull();
      expect(await repo.updateLocked(ws, foreign.id, plan)).toBeNull();

      expect(planned).toStrictEqual([]);
      expect(await repo.findById(foreign.workspaceId, foreign.id)).toStrictEqual(foreign);
    });

    it("changes nothing when plan throws, and rejects with its error", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const refusal = new Error("the plan refused");

      await expect(
        repo.updateLocked(ws, row.id, () => {
          throw refusal;
        }),
      ).rejects.toBe(refusal);

      expect(await repo.findById(ws, row.id)).toStrictEqual(row);
    });
  });

  describe("recordVerification and touchLastUsed on what they must not change", () => {
    const state = { verificationStatus: "verified", verificationCheckedAt: T1, verificationErrorCode: null, verificationDetail: null } as const;

    it("recordVerification of a check made without a sealed password records nothing", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const checked = (await repo.findForUse(ws, row.id))!;

      expect(await repo.recordVerification(ws, row.id, { ...checked, passwordCiphertext: null }, state)).toBeNull();

      expect(await repo.findById(ws, row.id)).toStrictEqual(row);
    });

    it("recordVerification ignores a registry of another id in the workspace", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      const checked = (await repo.findForUse(ws, row.id))!;

      expect(await repo.recordVerification(ws, uuidv7(), checked, state)).toBeNull();

      expect(await repo.findById(ws, row.id)).toStrictEqual(row);
    });

    it("touchLastUsed leaves a deleted registry alone", async () => {
      const ws = freshWorkspaceId();
      const row = await repo.insert(newRegistry(ws));
      await repo.softDeleteUnlessLinked(ws, row.id, T1, FORCE);

      await repo.touchLastUsed(ws, row.id, T2);

      expect((await repo.findForUse(ws, row.id))?.lastUsedAt).toBeNull();
    });
  });
});

/**
 * Which update shapes run as named prepared statements. PostgreSQL only: pg_prepared_statements
 * lists a connection's statements, and this database has one connection, so it lists them all.
 */
describe.skipIf(!postgresAdminUrl)("registry updates on PostgreSQL", () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase("postgres", { maxConnections: 1 });
  });
  afterAll(() => testDb?.dispose());

  it("prepare the first 32 shapes of patch, and run every later shape unprepared, each writing its fields", async () => {
    const { db } = testDb.handle;
    const repo = createRegistryRepository(db);
    const ws = freshWorkspaceId();
    const row = await repo.insert(newRegistry(ws));
    const preparedUpdates = async () =>
      rowsOf(await db.execute(sql`select count(*)::int as n from pg_prepared_statements where statement like 'update "registries"%'`))[0]!.n;
    // Shapes 1 to 34: non-empty subsets of six fields.
    const values = (n: number): Omit<RegistryPatch, "updatedAt"> => ({
      name: `name-${n}`,
      username: `user-${n}`,
      email: `e${n}@example.com`,
      enabled: n % 2 === 0,
      caCertificate: `ca-${n}`,
      verificationDetail: `detail-${n}`,
    });
    const keys = Object.keys(values(0)) as (keyof ReturnType<typeof values>)[];
    let expected: RegistryRecord = row;
    for (let shape = 1; shape <= 34; shape++) {
      const all = values(shape);
      const patch: RegistryPatch = { updatedAt: new Date(T1.getTime() + shape) };
      keys.forEach((key, bit) => {
        if (shape & (1 << bit)) Object.assign(patch, { [key]: all[key] });
      });
      expected = { ...expected, ...patch, version: shape + 1 };
      expect(await repo.update(ws, row.id, shape, patch)).toStrictEqual(expected);
      expect(await preparedUpdates()).toBe(Math.min(shape, 32));
    }
    // Shapes met again: the prepared one and an unprepared one both still write.
    expect(await repo.update(ws, row.id, 35, { name: "again-1", updatedAt: T2 })).toMatchObject({ name: "again-1", version: 36 });
    expect(await repo.update(ws, row.id, 36, { username: "again-34", verificationDetail: null, updatedAt: T2 })).toMatchObject({
      username: "again-34",
      verificationDetail: null,
      version: 37,
    });
    expect(await preparedUpdates()).toBe(32);
  });
});
