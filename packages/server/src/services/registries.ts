import type { Cipher } from "@modbox/crypto";
import { REGISTRY_NAME_UNIQUE } from "../db/repositories/registries.js";
import { classifyDatabaseError } from "../db/errors.js";
import type { RegistryListQuery, RegistryPatch, RegistryRecord, NewRegistry } from "../db/records.js";
import { DomainError } from "../errors.js";
import { decodeCursor, toPage } from "./pagination.js";

export interface RegistryRepositoryPort {
  insert(row: NewRegistry): Promise<RegistryRecord>;
  findById(workspaceId: string, id: string): Promise<RegistryRecord | null>;
  list(workspaceId: string, query: RegistryListQuery): Promise<RegistryRecord[]>;
  update(workspaceId: string, id: string, patch: RegistryPatch): Promise<RegistryRecord | null>;
  softDelete(workspaceId: string, id: string, at: Date): Promise<boolean>;
}

export interface RegistryServiceDeps {
  registries: RegistryRepositoryPort;
  cipher: Pick<Cipher, "encrypt" | "keyIdOf">;
  newId: () => string;
  now: () => Date;
}

export interface CreateRegistryInput {
  name: string;
  server: string;
  username: string;
  password: string;
  email?: string | null;
  enabled?: boolean;
}

export type UpdateRegistryInput = Partial<CreateRegistryInput>;

export interface ListRegistriesInput {
  limit: number;
  cursor?: string;
  enabled?: boolean;
  server?: string;
}

export type RegistryService = ReturnType<typeof createRegistryService>;

/**
 * Registry credentials: the password is encrypted here, before anything reaches the database,
 * bound to its workspace and registry id so a ciphertext moved to another row fails to decrypt.
 * Nothing in this service decrypts.
 */
export function createRegistryService(deps: RegistryServiceDeps) {
  const { registries, cipher } = deps;

  function seal(workspaceId: string, registryId: string, password: string) {
    const passwordCiphertext = cipher.encrypt(password, { workspace_id: workspaceId, registry_id: registryId });
    return { passwordCiphertext, passwordKeyId: cipher.keyIdOf(passwordCiphertext) };
  }

  return {
    async create(workspaceId: string, input: CreateRegistryInput): Promise<RegistryRecord> {
      const id = deps.newId();
      const now = deps.now();
      return withNameConflict(() =>
        registries.insert({
          id,
          workspaceId,
          name: input.name,
          server: input.server,
          username: input.username,
          email: input.email ?? null,
          enabled: input.enabled ?? true,
          createdAt: now,
          updatedAt: now,
          ...seal(workspaceId, id, input.password),
        }),
      );
    },

    async get(workspaceId: string, id: string): Promise<RegistryRecord> {
      return (await registries.findById(workspaceId, id)) ?? notFound();
    },

    async list(workspaceId: string, input: ListRegistriesInput) {
      const filters = { enabled: input.enabled, server: input.server };
      const beforeId = decodeCursor(input.cursor, filters);
      const rows = await registries.list(workspaceId, { ...filters, beforeId, limit: input.limit + 1 });
      return toPage(rows, input.limit, filters);
    },

    async update(workspaceId: string, id: string, input: UpdateRegistryInput): Promise<RegistryRecord> {
      const { password, ...fields } = input;
      const patch: RegistryPatch = { ...fields, updatedAt: deps.now() };
      if (password !== undefined) Object.assign(patch, seal(workspaceId, id, password));
      const updated = await withNameConflict(() => registries.update(workspaceId, id, patch));
      return updated ?? notFound();
    },

    async delete(workspaceId: string, id: string): Promise<void> {
      if (!(await registries.softDelete(workspaceId, id, deps.now()))) notFound();
    },
  };
}

function notFound(): never {
  throw new DomainError("not_found", "Registry not found.");
}

async function withNameConflict<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const db = classifyDatabaseError(err);
    if (db.kind === "unique_violation" && (db.constraint === undefined || db.constraint === REGISTRY_NAME_UNIQUE)) {
      throw new DomainError("registry_name_taken", "A registry with this name already exists in the workspace.");
    }
    throw err;
  }
}
