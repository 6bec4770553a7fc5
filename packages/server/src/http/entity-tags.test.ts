import type { Request } from "express";
import { describe, expect, it } from "vitest";
import type { RegistryRecord, SandboxImageRecord } from "../db/records.js";
import { DomainError } from "../errors.js";
import { ifMatchOf, isNotModified, registryTag, sandboxImageTag } from "./entity-tags.js";

/** Only the headers are read. */
const withHeaders = (headers: Record<string, string>) => ({ headers }) as unknown as Request;

/** The fields a registry's tag is made of; the rest does not matter here. */
function registry(fields: Partial<RegistryRecord> = {}): RegistryRecord {
  return {
    version: 3,
    lastUsedAt: null,
    verificationStatus: "unverified",
    verificationCheckedAt: null,
    verificationErrorCode: null,
    verificationDetail: null,
    ...fields,
  } as RegistryRecord;
}

const image = (version: number, registryName: string | null) => ({ version, registryName }) as SandboxImageRecord;

/** What the API answers when a header is not a list of quoted tags. */
function refusal(run: () => unknown): DomainError | undefined {
  try {
    run();
  } catch (error) {
    return error as DomainError;
  }
  return undefined;
}

describe("ETag of a registry", () => {
  it("is the version and a short digest of what the server writes besides it", () => {
    expect(registryTag(registry())).toBe('"3.lLKW2RMi"');
    expect(registryTag(registry({ version: 4 }))).toBe('"4.lLKW2RMi"');
  });

  it.each<[string, Partial<RegistryRecord>]>([
    ["it is used", { lastUsedAt: new Date("2026-01-02T03:04:05Z") }],
    ["it is verified", { verificationStatus: "verified" }],
    ["a verification is recorded", { verificationCheckedAt: new Date("2026-01-02T03:04:05Z") }],
    ["a verification fails with a code", { verificationErrorCode: "invalid_credentials" }],
    ["a verification fails with words", { verificationDetail: "the registry said no" }],
  ])("changes when %s, the version staying", (_label, change) => {
    const before = registryTag(registry());
    const after = registryTag(registry(change));
    expect(after).not.toBe(before);
    expect(after).toMatch(/^"3\.[A-Za-z0-9_-]{8}"$/);
  });

  it("tells two uses or two checks apart by their time", () => {
    const used = (at: string) => registryTag(registry({ lastUsedAt: new Date(at) }));
    const checked = (at: string) => registryTag(registry({ verificationCheckedAt: new Date(at) }));
    expect(used("2026-01-02T03:04:05Z")).not.toBe(used("2026-01-02T03:04:06Z"));
    expect(checked("2026-01-02T03:04:05Z")).not.toBe(checked("2026-01-02T03:04:06Z"));
    expect(used("2026-01-02T03:04:05Z")).not.toBe(checked("2026-01-02T03:04:05Z"));
  });
});

describe("ETag of a sandbox image", () => {
  it("is the version and a digest of its registry's name, which a rename changes", () => {
    expect(sandboxImageTag(image(2, null))).toBe('"2.HY_GzrH5"');
    expect(sandboxImageTag(image(2, "docker-hub"))).toMatch(/^"2\.[A-Za-z0-9_-]{8}"$/);
    expect(sandboxImageTag(image(2, "docker-hub"))).not.toBe(sandboxImageTag(image(2, "hub")));
    expect(sandboxImageTag(image(2, "docker-hub"))).not.toBe(sandboxImageTag(image(2, null)));
  });
});

describe("If-Match", () => {
  it("absent: no condition", () => {
    expect(ifMatchOf(withHeaders({}))).toBeUndefined();
  });

  it.each(["*", "  *  "])("%j: any current version", (value) => {
    expect(ifMatchOf(withHeaders({ "if-match": value }))).toBe("any");
  });

  it("names the versions of its strong tags of ours, one header line or several joined", () => {
    expect(ifMatchOf(withHeaders({ "if-match": '"3.k2x1c9a0"' }))).toEqual([3]);
    expect(ifMatchOf(withHeaders({ "if-match": '"3.k2x1c9a0", "12.a_b-C9"' }))).toEqual([3, 12]);
    expect(ifMatchOf(withHeaders({ "if-match": '  "3.abc"  ,"4.def",   "5.ghi"  ' }))).toEqual([3, 4, 5]);
    expect(ifMatchOf(withHeaders({ "if-match": '"0.abc"' }))).toEqual([0]);
    expect(ifMatchOf(withHeaders({ "if-match": '"999999999999999.abc"' }))).toEqual([999999999999999]);
  });

  it("a comma inside a tag does not split it", () => {
    expect(ifMatchOf(withHeaders({ "if-match": '"3.a,b", "4.c"' }))).toEqual([4]);
  });

  it.each([
    ["a weak tag (strong comparison)", 'W/"3.k2x1c9a0"'],
    ["a tag without the state", '"3"'],
    ["a tag with an empty state", '"3."'],
    ["a version of 16 digits", '"1234567890123456.abc"'],
    ["letters before the version", '"v3.abc"'],
    ["a state with other characters", '"3.a!b"'],
    ["an empty tag", '""'],
    ["a tag with a byte beyond ASCII", '"3.\u00e9"'],
  ])("%s names no version: a condition nothing meets", (_label, value) => {
    expect(ifMatchOf(withHeaders({ "if-match": value }))).toEqual([]);
  });

  it("keeps the strong tags of a list that has weak ones too", () => {
    expect(ifMatchOf(withHeaders({ "if-match": 'W/"3.abc", "4.abc"' }))).toEqual([4]);
  });

  it.each([
    ["unquoted", "3.k2x1c9a0"],
    ["a lower-case weakness prefix", 'w/"3.abc"'],
    ["a quote inside", '"3.a"b"'],
    ["two tags without a comma", '"3.a" "4.b"'],
    ["a control character", '"3.a\u007f"'],
    ["a space inside", '"3. a"'],
    ["an empty member", '"3.a",'],
    ["a star in a list", '"3.a", *'],
  ])("%s is a 400 naming the header and the form it takes", (_label, value) => {
    const error = refusal(() => ifMatchOf(withHeaders({ "if-match": value })));
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({
      code: "malformed_request",
      detail: 'If-Match must be * or a list of quoted entity tags, e.g. "3.k2x1c9a0" as answered in ETag.',
    });
  });
});

describe("If-None-Match", () => {
  const current = '"7.k2x1c9a0"';

  it("absent: modified", () => {
    expect(isNotModified(withHeaders({}), current)).toBe(false);
  });

  it.each(["*", " * "])("%j: not modified", (value) => {
    expect(isNotModified(withHeaders({ "if-none-match": value }), current)).toBe(true);
  });

  it.each([
    ["the current tag", '"7.k2x1c9a0"', true],
    ["the current tag, weak (weak comparison)", 'W/"7.k2x1c9a0"', true],
    ["the current tag among others", '"6.aaaa", "7.k2x1c9a0"', true],
    ["an older tag", '"6.k2x1c9a0"', false],
    ["the same version in another state", '"7.zzzzzzzz"', false],
    ["the tag without its quotes' content", '""', false],
  ])("%s → not modified: %s", (_label, value, expected) => {
    expect(isNotModified(withHeaders({ "if-none-match": value }), current)).toBe(expected);
  });

  it("a malformed one is a 400 naming If-None-Match", () => {
    const error = refusal(() => isNotModified(withHeaders({ "if-none-match": "7.k2x1c9a0" }), current));
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({
      code: "malformed_request",
      detail: 'If-None-Match must be * or a list of quoted entity tags, e.g. "3.k2x1c9a0" as answered in ETag.',
    });
  });
});
