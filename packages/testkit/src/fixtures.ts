/**
 * Rows written with drizzle directly, so a repository's tests depend on no other repository;
 * the one instant every fixture is created at; and the values the services' unit tests share.
 */
import { getTableColumns, sql, type Column } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { uuidv7 } from "./ids.js";
import { providerOf, referenceOf, registries, sandboxImages, type Db, type NewRegistry, type NewSandboxImage, type RegistryForUse, type RegistryRecord } from "./server.js";

/** The instant fixtures are created and last updated at, unless overridden. */
export const FIXTURE_TIME = new Date("2025-01-02T03:04:05.678Z");

/** A live, enabled ghcr.io registry with a (fake) sealed password unique to it, for a repository's `insert`. */
export function newRegistry(workspaceId: string, overrides: Partial<NewRegistry> = {}): NewRegistry {
  const id = uuidv7();
  return {
    id,
    workspaceId,
    name: `registry-${id}`,
    server: "ghcr.io",
    username: "robot",
    email: "robot@example.com",
    enabled: true,
    passwordCiphertext: `v1:k1:ciphertext-${id}`,
    passwordKeyId: "k1",
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
}

/** A registry's fields before anything was set on it: basic, no CA, no warnings, never verified or used. */
export const NEVER_VERIFIED_OR_USED = {
  authType: "basic",
  caCertificate: null,
  warnings: [],
  verificationStatus: "unverified",
  verificationCheckedAt: null,
  verificationErrorCode: null,
  verificationDetail: null,
  lastUsedAt: null,
} as const satisfies Partial<RegistryRecord>;

/**
 * The record a repository answers for `row` only just written: what the row leaves out is basic,
 * no CA, no warnings, never verified or used; the provider follows the server; version 1. The
 * sealed password is not part of it.
 */
export function justWrittenRecord(row: NewRegistry): RegistryRecord {
  const { passwordCiphertext: _ciphertext, passwordKeyId: _keyId, ...fields } = row;
  return {
    ...NEVER_VERIFIED_OR_USED,
    ...fields,
    provider: providerOf(row.server),
    version: 1,
  };
}

/**
 * A registry as a service reads it at the point of use (a self-hosted, basic, never verified one),
 * for the services' unit tests, which hand it to their in-memory repository.
 */
export function registryForUse(overrides: Partial<RegistryForUse> = {}): RegistryForUse {
  return {
    id: "0190a000-0000-7000-8000-000000000001",
    workspaceId: "ws_test",
    name: "prod",
    server: "registry.example.com",
    provider: "self_hosted",
    username: "robot",
    email: null,
    enabled: true,
    ...NEVER_VERIFIED_OR_USED,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    version: 1,
    deletedAt: null,
    passwordCiphertext: "sealed:test-password",
    ...overrides,
  };
}

/**
 * Two fixed, self-signed CA certificates (the public part only: no key was kept), for code that
 * parses or compares a registry's `ca_certificate` without connecting to anything.
 */
export const TEST_CA_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBijCCAS+gAwIBAgIULenElLI/tmA9v1YzJp0pSr9Rl8UwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwObW9kYm94LXRlc3QtY2EwIBcNMjYxMTMwMDIwMTEzWhgPMjEy
NjExMDYwMjAxMTNaMBkxFzAVBgNVBAMMDm1vZGJveC10ZXN0LWNhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEu482HRpuBwPip0JyXgnh7TXfOGFRaxiajtarbT5t
oZIUTh5GK7Ez4zkFr9RLDH5xtknlU851b+dDTLrxnk+AUaNTMFEwHQYDVR0OBBYE
FAmzzwwMojCZFBbld9+cQ5rIt8NSMB8GA1UdIwQYMBaAFAmzzwwMojCZFBbld9+c
Q5rIt8NSMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAP9wd90t
cYyZyhilcexCWp0mPgxiiXHamCh4yHOIjE4rAiEAl+gxxSqfZkXUOtWiGZNflqkl
Ee6qGTgIIpU4N1JGET4=
-----END CERTIFICATE-----
`;
export const OTHER_TEST_CA_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIUfpvCPuiXneXHjDuSAbNawuBeE5QwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwObW9kYm94LXRlc3QtY2EwIBcNMjYxMTMwMDIwMTEzWhgPMjEy
NjExMDYwMjAxMTNaMBkxFzAVBgNVBAMMDm1vZGJveC10ZXN0LWNhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEnoe6HV+YA6Vo0GDsq0HEHosjkV5QuvgpKiBox3Bi
sSrQh3XSlhvWshRqaWjw9/UFHgvm2YFU9byysUzeVcENTKNTMFEwHQYDVR0OBBYE
FLDQDKZ2On5Sa5ZAYUr1pg8jTWBmMB8GA1UdIwQYMBaAFLDQDKZ2On5Sa5ZAYUr1
pg8jTWBmMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgEi6QeV0X
Jo/0AWqwamgroEBvwen8ISy/YsnMgHmv8pYCIHfW2x7aZTbBSdiyrYcGU7aK2cin
TgPa6OzB6onXZKZD
-----END CERTIFICATE-----
`;

/** What the contract gives a sandbox image for each optional field a create leaves out (but the tag). */
export const IMAGE_DEFAULTS = {
  description: null,
  enabled: true,
  isDefault: false,
  memoryMb: 1024,
  ttlSeconds: null,
  readinessPort: null,
} as const;

/** An enabled, unlinked `ghcr.io/acme/sandbox:latest` with every optional field empty, for a repository's `insert`. */
export function newImage(workspaceId: string, overrides: Partial<NewSandboxImage> = {}): NewSandboxImage {
  const id = uuidv7();
  return {
    id,
    workspaceId,
    name: `image-${id}`,
    image: "ghcr.io/acme/sandbox",
    tag: "latest",
    registryId: null,
    ...IMAGE_DEFAULTS,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
}

/**
 * Inserts `newRegistry(workspaceId)` (no CA) with `overrides`, bypassing the repository; returns
 * the row. Its provider is derived as the repository would, unless `overrides` sets one.
 */
export async function insertRawRegistry(db: Db, workspaceId: string, overrides: Partial<typeof registries.$inferInsert> = {}) {
  const fields = { ...newRegistry(workspaceId), caCertificate: null, ...overrides };
  const row = { provider: providerOf(fields.server), ...fields };
  await insertGivenColumns(db, registries, row);
  return row;
}

/**
 * Inserts an enabled, unlinked sandbox image (link it with `registryId`); returns the row. Its
 * pull reference is derived as the repository would, unless `overrides` sets one.
 */
export async function insertRawImage(db: Db, workspaceId: string, overrides: Partial<typeof sandboxImages.$inferInsert> = {}) {
  const id = uuidv7();
  const row = {
    id,
    workspaceId,
    name: `image-${id}`,
    image: "ghcr.io/acme/sandbox",
    tag: "v1",
    registryId: null,
    enabled: true,
    memoryMb: 1024,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    ...overrides,
  };
  await insertGivenColumns(db, sandboxImages, { reference: referenceOf(row.image, row.tag), ...row });
  return row;
}

/**
 * `insert` naming only the columns `row` gives (drizzle's own insert names every column of the
 * schema, so it fails on a database migrated to an older version: the migration tests write
 * rows as an older server stored them). Values are encoded as drizzle encodes them.
 */
async function insertGivenColumns(db: Db, table: PgTable, row: Record<string, unknown>): Promise<void> {
  const columns: Record<string, Column> = getTableColumns(table);
  const fields = Object.keys(row).filter((field) => row[field] !== undefined);
  for (const field of fields) if (!columns[field]) throw new Error(`no column for the fixture field ${field}`);
  await db.execute(sql`insert into ${table} (${sql.join(
    fields.map((field) => sql.identifier(columns[field]!.name)),
    sql`, `,
  )}) values (${sql.join(
    fields.map((field) => sql.param(row[field], columns[field]!)),
    sql`, `,
  )})`);
}
