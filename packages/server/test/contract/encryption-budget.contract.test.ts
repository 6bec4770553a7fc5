import { randomUUID } from "node:crypto";
import { MAX_ENCRYPTIONS_PER_KEY, DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD } from "@modbox/crypto";
import { APIError, type ModboxClient } from "@modbox/sdk";
import { eq, isNotNull } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { encryptionKeys, registries } from "../../src/db/schema.js";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends } from "@modbox/testkit/databases";

/**
 * The nonce budget of the active key, through the API: the count lives in the database, so it is
 * set there to just below a limit (counting 2^32 real encryptions is not a test).
 */
describe.each(backends)("the active key's encryption budget on %s", (backend) => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const setReserved = (a: TestApp, n: number) => a.database.db.update(encryptionKeys).set({ encryptionsReserved: n });
  const input = () => ({ name: `r-${randomUUID()}`, server: "registry.example.com", username: "robot", password: `pw-${randomUUID()}` });
  const sealedRows = async (a: TestApp) =>
    (await a.database.db.select({ id: registries.id }).from(registries).where(isNotNull(registries.passwordCiphertext))).length;

  it("spends the last encryptions of the key, then refuses writes that seal a password with 503 encryption_key_unavailable", async () => {
    app = await startTestApp(backend);
    const client: ModboxClient = app.client(`ws-${randomUUID()}`);
    await setReserved(app, MAX_ENCRYPTIONS_PER_KEY - 2);

    const first = await client.registries.create(input());
    await client.registries.update(first.id, { password: "rotated-once" });
    const before = await sealedRows(app);

    const refusedCreate = await client.registries.create(input()).catch((e: unknown) => e);
    const refusedRotate = await client.registries.update(first.id, { password: "rotated-twice" }).catch((e: unknown) => e);

    for (const refused of [refusedCreate, refusedRotate]) {
      expect(refused).toBeInstanceOf(APIError);
      expect(refused).toMatchObject({ status: 503, code: "encryption_key_unavailable" });
      expect((refused as APIError).detail).toContain("reached its limit");
    }
    expect(await sealedRows(app)).toBe(before);
    // Nothing that does not seal a password is refused.
    expect(await client.registries.update(first.id, { name: "renamed" })).toMatchObject({ name: "renamed" });
    const [key] = await app.database.db.select().from(encryptionKeys);
    expect(key!.encryptionsReserved).toBe(MAX_ENCRYPTIONS_PER_KEY);
  });

  it("warns in the log once the key has used half of its budget", async () => {
    app = await startTestApp(backend);
    const client = app.client(`ws-${randomUUID()}`);
    await setReserved(app, DEFAULT_NONCE_BUDGET_WARNING_THRESHOLD - 1);

    await client.registries.create(input());
    await client.registries.create(input());

    const warnings = app.logs.filter((line) => line.includes("half of its nonce budget"));
    expect(warnings).toHaveLength(1);
    const [key] = await app.database.db.select().from(encryptionKeys);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, keyId: key!.keyId, reserved: key!.encryptionsReserved });
  });

  it("refuses to seal with a key that was retired", async () => {
    app = await startTestApp(backend);
    const client = app.client(`ws-${randomUUID()}`);
    await app.database.db.update(encryptionKeys).set({ retiredAt: new Date() }).where(eq(encryptionKeys.keyId, (await app.database.db.select().from(encryptionKeys))[0]!.keyId));

    const refused = await client.registries.create(input()).catch((e: unknown) => e);

    expect(refused).toMatchObject({ status: 503, code: "encryption_key_unavailable" });
    expect((refused as APIError).detail).toContain("was retired");
  });
});
