import { randomUUID } from "node:crypto";
import type { ModboxClient } from "@modbox/sdk";
import { makeCaCertificate } from "@modbox/testkit/certificates";
import { backends } from "@modbox/testkit/databases";
import { beforeAll, describe, expect, it } from "vitest";
import { ISO, hex, registryBody, apiError, useRulesApp } from "./rules-app.js";

/**
 * Registry verification state, through the SDK against the real app: a new registry is
 * unverified; changing a credential resets its verification; "verify on save" and `POST /verify`
 * record the same outcome, its detail included. The only outbound call goes to 127.0.0.1:9, where nothing listens, to prove
 * that an unreachable registry is recorded as `registry_unreachable` (the test app's outbound
 * policy allows loopback).
 */
const NEVER_VERIFIED = { status: "unverified", checked_at: null, error_code: null, detail: null } as const;
/** Nothing listens on the discard port of loopback: a registry that cannot be reached. */
const UNREACHABLE = "127.0.0.1:9";

describe.each(backends)("registry verification contract on %s", (backend) => {
  const rules = useRulesApp(backend);
  let client: ModboxClient;
  let caPem: string;
  beforeAll(() => {
    ({ client } = rules);
    caPem = makeCaCertificate("modbox-test-ca-1");
  });

  // ─── Verification state ──────────────────────────────────────────────────────────────────

  describe("verification", () => {
    it("a new registry is unverified; verify on save against an unreachable registry records failed and still saves", async () => {
      expect((await client.registries.create(registryBody())).verification).toEqual(NEVER_VERIFIED);

      const before = Date.now();
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      expect(created.verification).toEqual({
        status: "failed",
        checked_at: expect.stringMatching(ISO),
        error_code: "registry_unreachable",
        detail: `${UNREACHABLE}: the connection was refused`,
      });
      expect(Date.parse(created.verification.checked_at!)).toBeGreaterThanOrEqual(before - 1000);
      expect(await client.registries.get(created.id)).toEqual(created);
    });

    it("POST /verify answers the fresh outcome with its detail and records it, detail included, without touching updated_at", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }));
      const result = await client.registries.verify(created.id);
      expect(result).toEqual({
        status: "failed",
        checked_at: expect.stringMatching(ISO),
        error_code: "registry_unreachable",
        detail: `${UNREACHABLE}: the connection was refused`,
      });
      const stored = await client.registries.get(created.id);
      expect(stored).toEqual({ ...created, verification: result });
      expect(stored.updated_at).toBe(created.updated_at);
      expect((await client.registries.list({ server: UNREACHABLE })).data.find((r) => r.id === created.id)?.verification).toEqual(result);
    });

    it("?verify=true and POST /verify give one answer: the same verification, detail included, stored alike", async () => {
      const saved = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      const verified = await client.registries.verify(saved.id);
      const { checked_at: _a, ...onSave } = saved.verification;
      const { checked_at: _b, ...onVerify } = verified;
      expect(onSave).toEqual(onVerify);
      expect((await client.registries.get(saved.id)).verification).toEqual(verified);

      const updated = await client.registries.update(saved.id, { password: `pw-${hex()}` }, { verify: true });
      const { checked_at: _c, ...onUpdate } = updated.verification;
      expect(onUpdate).toEqual(onVerify);
      expect((await client.registries.get(saved.id)).verification).toEqual(updated.verification);
    });

    it("a credential change clears the stored detail with the outcome", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      expect(created.verification.detail).toEqual(expect.any(String));
      expect((await client.registries.update(created.id, { username: "another-robot" })).verification).toEqual(NEVER_VERIFIED);
    });

    it("verify: 404 for a missing registry, 409 registry_disabled for a disabled one", async () => {
      const missing = await apiError(client.registries.verify(randomUUID()));
      expect([missing.status, missing.code]).toEqual([404, "not_found"]);
      const disabled = await client.registries.create(registryBody({ server: UNREACHABLE, enabled: false }));
      const refused = await apiError(client.registries.verify(disabled.id));
      expect([refused.status, refused.code]).toEqual([409, "registry_disabled"]);
      expect((await client.registries.get(disabled.id)).verification).toEqual(NEVER_VERIFIED);
    });

    it.each([
      ["username", () => ({ username: "another-robot" })],
      ["password", () => ({ password: `pw-${hex()}` })],
      ["server", () => ({ server: "127.0.0.1:10" })],
      ["ca_certificate", () => ({ ca_certificate: caPem })],
    ] as const)("changing the %s resets the verification to unverified", async (_field, change) => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      expect(created.verification.status).toBe("failed");
      const changed = await client.registries.update(created.id, change());
      expect(changed.verification).toEqual(NEVER_VERIFIED);
      expect(await client.registries.get(created.id)).toEqual(changed);
    });

    it("changing the name, email or enabled keeps the verification", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }), { verify: true });
      for (const change of [{ name: `renamed ${hex()}` }, { email: "robot@example.com" }, { enabled: false }, { enabled: true }]) {
        expect((await client.registries.update(created.id, change)).verification, JSON.stringify(change)).toEqual(created.verification);
      }
    });

    it("a credential change with ?verify=true records the new check instead", async () => {
      const created = await client.registries.create(registryBody({ server: UNREACHABLE, username: "robot" }));
      const changed = await client.registries.update(created.id, { password: `pw-${hex()}` }, { verify: true });
      expect(changed.verification).toEqual({
        status: "failed",
        checked_at: expect.stringMatching(ISO),
        error_code: "registry_unreachable",
        detail: `${UNREACHABLE}: the connection was refused`,
      });
    });
  });
});
