import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OPENAPI_SPEC_PATH } from "../app.js";
import { readPublishedContract } from "./contract.js";

function contractFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "modbox-contract-")), "openapi.yaml");
  writeFileSync(path, text);
  return path;
}

describe("readPublishedContract", () => {
  it("keeps the file's bytes and reads its title and version", () => {
    const published = readPublishedContract(OPENAPI_SPEC_PATH);
    expect(published.yaml.equals(readFileSync(OPENAPI_SPEC_PATH))).toBe(true);
    expect(published.title).toBe("Modbox Registries API");
    expect(published.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(JSON.parse(published.json)).toMatchObject({ openapi: expect.stringMatching(/^3\.1\./), info: { title: published.title } });
  });

  it("reads plain scalars as the validator does: an unquoted date stays the string it is", () => {
    const path = contractFile("openapi: 3.1.0\ninfo: { title: T, version: 1.0.0 }\nx-released: 2026-11-29\nx-at: 2026-11-29T10:00:00Z\n");
    expect(JSON.parse(readPublishedContract(path).json)).toMatchObject({ "x-released": "2026-11-29", "x-at": "2026-11-29T10:00:00Z" });
  });

  it("refuses a file that is not a contract, or repeats a key, naming the file", () => {
    expect(() => readPublishedContract(contractFile("just: text\n"))).toThrow(/openapi\.yaml has no info\.title or info\.version/);
    expect(() => readPublishedContract(contractFile("openapi: 3.1.0\ninfo: { title: T, version: 1.0.0 }\npaths: {}\npaths: {}\n"))).toThrow(/duplicated mapping key/);
  });
});
