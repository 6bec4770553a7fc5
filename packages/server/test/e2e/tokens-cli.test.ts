/**
 * `npm run tokens` as an operator runs it (a process, `node --import tsx`): bad arguments exit 2
 * with the usage before any storage is touched, and a data directory with no database in it is
 * refused, named, and left uncreated. The commands themselves: src/tokens-command.test.ts.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killStartedProcesses, runToExit } from "@modbox/testkit/processes";

describe("npm run tokens (the process)", () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "modbox-tokens-process-"));
  });
  afterAll(async () => {
    await killStartedProcesses();
    await rm(scratch, { recursive: true, force: true });
  });

  it("create without --workspace or --all-workspaces: exit 2 with the usage, nothing opened or created", async () => {
    const dataDir = join(scratch, "data");
    const exited = await runToExit("tokens", ["create", "--name", "ci"], { MODBOX_DATA_DIR: dataDir });
    expect(exited.code).toBe(2);
    expect(exited.stderr).toMatch(/^create needs --workspace <id> \(repeatable\) or --all-workspaces\n\nUsage: npm run tokens/);
    expect(exited.stdout).toBe("");
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);

  it("a forgotten DATABASE_URL: exit 1 naming the data directory it looked in, which stays uncreated", async () => {
    const dataDir = join(scratch, "no-database-here");
    const exited = await runToExit("tokens", ["list"], { MODBOX_DATA_DIR: dataDir });
    expect(exited.code).toBe(1);
    const [database, message] = exited.stderr.split("\n");
    expect(database).toBe(`Database: embedded database at ${dataDir}`);
    expect(message).toContain(`modbox: No embedded database in ${dataDir}`);
    expect(message).toContain("DATABASE_URL=postgres://");
    expect(exited.stdout).toBe("");
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);
});
