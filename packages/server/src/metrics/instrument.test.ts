import { describe, expect, it, vi } from "vitest";
import type { PullRepositoryPort } from "../services/pulls.js";
import type { RegistryProber } from "../services/registry-prober.js";
import { countPullCredentials, countVerifications } from "./instrument.js";

const event = { id: "e", workspaceId: "w", imageId: "i", registryId: null, tokenId: "t", createdAt: new Date(0) };

describe("countPullCredentials", () => {
  it("counts each audited hand-out and refusal once it is recorded, and nothing when the audit fails", async () => {
    const pulls: PullRepositoryPort = {
      resolve: vi.fn(async () => null),
      recordRefusal: vi.fn(async () => {}),
      recordIssued: vi.fn(async () => {}),
    };
    const counted: string[] = [];
    const port = countPullCredentials(pulls, { pullCredentials: (o) => counted.push(o) });

    await port.recordIssued(event);
    await port.recordRefusal({ ...event, outcome: "image_disabled" });
    expect(await port.resolve("w", "i")).toBeNull();
    vi.mocked(pulls.recordIssued).mockRejectedValueOnce(new Error("database down"));
    await expect(port.recordIssued(event)).rejects.toThrow("database down");

    expect(counted).toEqual(["issued", "image_disabled"]);
    expect(pulls.recordRefusal).toHaveBeenCalledWith({ ...event, outcome: "image_disabled" });
  });
});

describe("countVerifications", () => {
  it("counts each login's outcome and hands it on unchanged; pull checks pass through uncounted", async () => {
    const prober: RegistryProber = {
      verifyLogin: vi.fn(async () => ({ status: "unverified" as const, reason: "anonymous_registry" as const })),
      checkPull: vi.fn(async () => ({ ok: true as const, digest: "sha256:0", mediaType: null })),
    };
    const verification = vi.fn();
    const counted = countVerifications(prober, { verification });
    const endpoint = { host: "registry.example", scheme: "https" as const };

    expect(await counted.verifyLogin(endpoint, { username: "u", password: "p" })).toEqual({ status: "unverified", reason: "anonymous_registry" });
    expect(await counted.checkPull(endpoint, "team/app", "v1", null)).toMatchObject({ ok: true });
    expect(verification).toHaveBeenCalledExactlyOnceWith({ status: "unverified", reason: "anonymous_registry" });
    expect(prober.checkPull).toHaveBeenCalledWith(endpoint, "team/app", "v1", null);
  });
});
