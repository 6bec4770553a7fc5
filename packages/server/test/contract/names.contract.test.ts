import { randomUUID } from "node:crypto";
import { ConflictError, type ModboxClient } from "@modbox/sdk";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, rowsOf } from "@modbox/testkit/databases";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAME_RULES } from "../../src/services/names.js";
import { apiError, expectFieldError, hex, registryBody } from "./rules-app.js";

/** Registry and sandbox image names through the SDK: stored NFC, refused by rule, unique as stored. */
describe.each(backends)("names on %s", (backend) => {
  let app: TestApp;
  let client: ModboxClient;

  beforeAll(async () => {
    app = await startTestApp(backend);
    client = app.client(freshWorkspaceId("names"));
  });
  afterAll(() => app?.close());

  async function storedName(table: "registries" | "sandbox_images", id: string): Promise<string> {
    const rows = rowsOf(
      table === "registries"
        ? await app.database.db.execute(sql`select name from registries where id = ${id}`)
        : await app.database.db.execute(sql`select name from sandbox_images where id = ${id}`),
    );
    return rows[0]!.name as string;
  }

  it("a registry name is stored and answered in NFC, on create and on rename", async () => {
    const suffix = hex();
    const created = await client.registries.create(registryBody({ name: `Cafe\u0301 ${suffix}` }));
    expect(created.name).toBe(`Caf\u00e9 ${suffix}`);
    expect(await storedName("registries", created.id)).toBe(`Caf\u00e9 ${suffix}`);
    expect((await client.registries.get(created.id)).name).toBe(`Caf\u00e9 ${suffix}`);

    const renamed = await client.registries.update(created.id, { name: `\u212Bngstro\u0308m ${suffix}` });
    expect(renamed.name).toBe(`\u00C5ngstr\u00F6m ${suffix}`);
    expect(await storedName("registries", created.id)).toBe(`\u00C5ngstr\u00F6m ${suffix}`);
  });

  it("a registry keeps its own name sent in another spelling: not a conflict with itself", async () => {
    const created = await client.registries.create(registryBody({ name: `Cr\u00e8me ${hex()}` }));
    const same = await client.registries.update(created.id, { name: created.name.normalize("NFD") });
    expect(same.name).toBe(created.name);
  });

  it("409 registry_name_taken for another spelling of a taken name; another workspace may use it", async () => {
    const taken = await client.registries.create(registryBody({ name: `r\u00e9sum\u00e9 ${hex()}` }));
    for (const spelling of [taken.name.normalize("NFD"), taken.name.replace("\u00e9", "e\u0301")]) {
      const clash = await apiError(client.registries.create(registryBody({ name: spelling })));
      expect(clash).toBeInstanceOf(ConflictError);
      expect(clash.code).toBe("registry_name_taken");
    }
    const other = await client.registries.create(registryBody());
    const rename = await apiError(client.registries.update(other.id, { name: taken.name.normalize("NFD") }));
    expect(rename.code).toBe("registry_name_taken");
    const elsewhere = await app.client(freshWorkspaceId("names-other")).registries.create(registryBody({ name: taken.name.normalize("NFD") }));
    expect(elsewhere.name).toBe(taken.name);
  });

  it("a sandbox image name is stored and answered in NFC, on create and on update", async () => {
    const image = await client.sandboxImages.create({ name: "Imag\u0065\u0301 one", image: "ghcr.io/acme/app" });
    expect(image.name).toBe("Imag\u00e9 one");
    expect(await storedName("sandbox_images", image.id)).toBe("Imag\u00e9 one");
    const updated = await client.sandboxImages.update(image.id, { name: "Imag\u0065\u0301 two" });
    expect(updated.name).toBe("Imag\u00e9 two");
    expect(await storedName("sandbox_images", image.id)).toBe("Imag\u00e9 two");
  });

  it("names people write are accepted as sent: scripts, inner spaces, emoji sequences", async () => {
    for (const name of [`中文 ひらがな ${hex()}`, `Docker\u00a0Hub ${hex()}`, `👩‍💻 dev ${hex()}`, `⚙️ CI ${hex()}`, `🇫🇷 prod ${hex()}`]) {
      expect((await client.registries.create(registryBody({ name }))).name).toBe(name);
      expect((await client.sandboxImages.create({ name, image: "ghcr.io/acme/app" })).name).toBe(name);
    }
  });

  it("422 names the field and the rule, never the value, on every write and before a missing id's 404", async () => {
    const registry = await client.registries.create(registryBody());
    const image = await client.sandboxImages.create({ name: `image ${hex()}`, image: "ghcr.io/acme/app" });
    const value = "evil\u202egnp.exe";
    // Sent one at a time: a call started early and awaited later would reject unobserved.
    const writes = [
      () => client.registries.create(registryBody({ name: value })),
      () => client.registries.update(registry.id, { name: value }),
      () => client.registries.update(randomUUID(), { name: value }),
      () => client.sandboxImages.create({ name: value, image: "ghcr.io/acme/app" }),
      () => client.sandboxImages.update(image.id, { name: value }),
      () => client.sandboxImages.update(randomUUID(), { name: value }),
    ];
    for (const write of writes) {
      const err = await apiError(write());
      expectFieldError(err, "/body/name", [value, "evil", "gnp.exe"]);
      expect(err.problem?.errors?.[0]?.message).toBe(NAME_RULES.invisible);
    }
    expect((await client.registries.get(registry.id)).name).toBe(registry.name);
    expect((await client.sandboxImages.get(image.id)).name).toBe(image.name);
  });
});
