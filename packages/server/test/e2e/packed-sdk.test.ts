/**
 * The SDK as an npm user gets it (outside the workspace, no pnpm, no links): plain `npm pack` of packages/sdk (its prepack builds
 * dist/ and writes the packed manifest), what the tarball holds, then an application outside the
 * workspace that installs it with npm alone, type-checks against it strictly and runs it, as ESM
 * and through require(), against the real server process. `pnpm pack` must ship the same thing.
 *
 * Needs the npm registry (npm install downloads openapi-fetch) and `tar`.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, posix, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { killStartedProcesses, startServerProcess, type ServerProcess } from "@modbox/testkit/processes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const SDK_DIR = fileURLToPath(new URL("../../../sdk/", import.meta.url));
const APP_FIXTURE_DIR = fileURLToPath(new URL("packed-sdk-app/", import.meta.url));
/** The workspace's own TypeScript, by absolute path: the scratch app installs none. */
const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const COMMAND_TIMEOUT_MS = 150_000;

/**
 * A shell outside the workspace: without the settings pnpm or npm pass to the scripts they run
 * (npm_config_*, npm_package_*, …) or NODE_OPTIONS, which would make the children behave as if
 * run from inside this repository.
 */
const outsideEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|pnpm_|node_options$)/i.test(name)),
);

interface Ran {
  code: number;
  stdout: string;
  /** The command line, then both streams: for a failure's message. */
  report: string;
}

/** Runs a command to its end (no shell); answers its exit code and output, never throws. */
function run(cwd: string, command: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: outsideEnv, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, report: `$ ${command} ${args.join(" ")}   (in ${cwd}, exit ${code})\n${stdout}${stderr}` });
      },
    );
  });
}

/** Runs a command; answers its stdout, throws with its output unless it exits 0. */
async function mustRun(cwd: string, command: string, args: string[]): Promise<string> {
  const ran = await run(cwd, command, args);
  if (ran.code !== 0) throw new Error(ran.report);
  return ran.stdout;
}

/** Packs packages/sdk with `npm pack` or `pnpm pack` into an empty directory; answers the tarball's path. */
async function pack(tool: "npm" | "pnpm", destination: string): Promise<string> {
  await mkdir(destination, { recursive: true });
  await mustRun(SDK_DIR, tool, ["pack", "--pack-destination", destination]);
  const tarballs = (await readdir(destination)).filter((name) => name.endsWith(".tgz"));
  expect(tarballs).toHaveLength(1);
  return join(destination, tarballs[0]!);
}

/** The tarball's files, without npm's `package/` prefix, sorted. */
async function filesIn(tarball: string): Promise<string[]> {
  const listing = await mustRun(REPO_ROOT, "tar", ["-tzf", tarball]);
  return listing
    .split("\n")
    .filter((line) => line.startsWith("package/") && !line.endsWith("/"))
    .map((line) => line.slice("package/".length))
    .sort();
}

async function manifestTextIn(tarball: string): Promise<string> {
  return mustRun(REPO_ROOT, "tar", ["-xOzf", tarball, "package/package.json"]);
}

/**
 * What must ship, derived from src/ so a new module is expected without editing this test: the
 * JavaScript, declarations and source map of every module that is not a test or a test helper,
 * the generated OpenAPI types, and the three files every package carries.
 */
function expectedFiles(): string[] {
  const modules = readdirSync(join(SDK_DIR, "src"), { recursive: true, encoding: "utf8" })
    .map((path) => path.split(sep).join("/"))
    .filter((path) => path.endsWith(".ts") && !path.endsWith(".d.ts"))
    .filter((path) => !/\.test(-d)?\.ts$/.test(path) && !path.startsWith("testing/"));
  const built = modules.flatMap((path) => {
    const base = `dist/${path.slice(0, -".ts".length)}`;
    return [`${base}.js`, `${base}.d.ts`, `${base}.js.map`];
  });
  return [...built, "dist/generated/openapi.d.ts", "LICENSE", "README.md", "package.json"].sort();
}

/** Module specifiers in code, comments left out (the doc examples import "@modbox/sdk"). */
function specifiersIn(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [...code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*"([^"]+)"/g)].map((match) => match[1]!);
}

describe("the SDK packed with npm, installed by an app outside the workspace", { timeout: 120_000 }, () => {
  let scratch: string;
  let appDir: string;
  let unpackedDir: string;
  let tarball: string;
  let files: string[];
  let workspaceManifestText: string;
  let server: ServerProcess | undefined;
  let token: string;
  let typeCheck: Ran;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "modbox-packed-sdk-"));
    appDir = join(scratch, "app");
    unpackedDir = join(scratch, "unpacked");
    const dataDir = join(scratch, "data");
    await Promise.all([mkdir(appDir), mkdir(unpackedDir), mkdir(dataDir)]);
    workspaceManifestText = await readFile(join(SDK_DIR, "package.json"), "utf8");

    [server, tarball] = await Promise.all([
      startServerProcess({ MODBOX_DATA_DIR: dataDir }),
      pack("npm", join(scratch, "npm-pack")),
    ]);
    token = /(mbx_[A-Za-z0-9_-]{40})/.exec(server.stderr())![1]!;
    files = await filesIn(tarball);
    await mustRun(REPO_ROOT, "tar", ["-xzf", tarball, "-C", unpackedDir]);

    // The app: its own package.json and nothing of the workspace's; npm only.
    await writeFile(join(appDir, "package.json"), `${JSON.stringify({ name: "outside-app", private: true, type: "module" })}\n`);
    for (const file of ["app.ts", "run-esm.mjs", "run-cjs.cjs"]) {
      await copyFile(join(APP_FIXTURE_DIR, file), join(appDir, file));
    }
    await copyFile(join(APP_FIXTURE_DIR, "consumer.tsconfig.json"), join(appDir, "tsconfig.json"));
    await mustRun(appDir, "npm", ["install", "--no-audit", "--no-fund", tarball]);
    typeCheck = await run(appDir, process.execPath, [TSC, "-p", "."]); // also emits app.js
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    await killStartedProcesses();
    // A pack that died between prepack and postpack leaves the workspace manifest swapped out.
    if (existsSync(join(SDK_DIR, "package.json.workspace"))) {
      await run(SDK_DIR, process.execPath, ["scripts/pack-stage.mjs", "restore"]);
    }
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("runs outside the workspace", () => {
    expect(scratch.startsWith(REPO_ROOT)).toBe(false);
    // Installed from the tarball: a directory of its own, not a link back into the workspace.
    expect(lstatSync(join(appDir, "node_modules/@modbox/sdk")).isDirectory()).toBe(true);
  });

  it("puts the workspace's package.json back as it was, and nothing else in the package", async () => {
    expect(await readFile(join(SDK_DIR, "package.json"), "utf8")).toBe(workspaceManifestText);
    expect(existsSync(join(SDK_DIR, "package.json.workspace"))).toBe(false);
    expect(existsSync(join(SDK_DIR, "LICENSE"))).toBe(false);
  });

  it("ships the build, README, LICENSE and manifest: no sources, tests or test helpers", async () => {
    expect(files).toEqual(expectedFiles());
    expect(await readFile(join(unpackedDir, "package/LICENSE"), "utf8")).toBe(await readFile(join(REPO_ROOT, "LICENSE"), "utf8"));
    expect(await readFile(join(unpackedDir, "package/LICENSE"), "utf8")).toContain("Apache License\n                           Version 2.0, January 2004");
    expect(await readFile(join(unpackedDir, "package/README.md"), "utf8")).toBe(await readFile(join(SDK_DIR, "README.md"), "utf8"));
  });

  it("packs a manifest npm can install: dist/ entry points, pinned dependencies, no workspace specifiers", async () => {
    const text = await manifestTextIn(tarball);
    for (const workspaceOnly of ["catalog:", "workspace:", "src/", "devDependencies", "scripts"]) {
      expect(text).not.toContain(workspaceOnly);
    }
    const workspace = JSON.parse(workspaceManifestText) as { version: string; description: string; dependencies: Record<string, string> };
    // One source for the runtime dependency's version: packages/sdk/package.json, an exact pin.
    expect(workspace.dependencies["openapi-fetch"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(JSON.parse(text)).toEqual({
      name: "@modbox/sdk",
      version: workspace.version,
      description: workspace.description,
      type: "module",
      license: "Apache-2.0",
      repository: { type: "git", url: expect.stringMatching(/^git\+https:\/\//), directory: "packages/sdk" },
      engines: { node: ">=20.19" },
      sideEffects: false,
      main: "./dist/index.js",
      types: "./dist/index.d.ts",
      exports: {
        ".": { types: "./dist/index.d.ts", import: "./dist/index.js", require: "./dist/index.js" },
        "./openapi": { types: "./dist/generated/openapi.d.ts" },
        "./package.json": "./package.json",
      },
      files: ["dist"],
      dependencies: workspace.dependencies,
    });
    const installed = JSON.parse(await readFile(join(appDir, "node_modules/openapi-fetch/package.json"), "utf8")) as { version: string };
    expect(installed.version).toBe(workspace.dependencies["openapi-fetch"]);
  });

  it("has declarations and modules that import only shipped files and declared dependencies", async () => {
    const dependencies = Object.keys((JSON.parse(await manifestTextIn(tarball)) as { dependencies: object }).dependencies);
    for (const file of files.filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"))) {
      const source = await readFile(join(unpackedDir, "package", file), "utf8");
      expect(source, file).not.toMatch(/\/\/\/\s*<reference/); // e.g. types="node": a consumer may have none
      for (const specifier of specifiersIn(source)) {
        if (!specifier.startsWith(".")) {
          expect(dependencies, `${file} imports ${specifier}`).toContain(specifier);
          continue;
        }
        const target = posix.join(posix.dirname(file), specifier);
        expect(files, `${file} imports ${specifier}`).toContain(file.endsWith(".d.ts") ? target.replace(/\.js$/, ".d.ts") : target);
      }
      const sourceMap = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(source)?.[1];
      if (sourceMap) expect(files, `${file} maps to ${sourceMap}`).toContain(posix.join(posix.dirname(file), sourceMap));
    }
    // The maps name ../src/*.ts, which does not ship: they carry the sources inline instead.
    for (const file of files.filter((f) => f.endsWith(".js.map"))) {
      const map = JSON.parse(await readFile(join(unpackedDir, "package", file), "utf8")) as { sources: string[]; sourcesContent?: unknown[] };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(map.sourcesContent!.every((content) => typeof content === "string"), file).toBe(true);
    }
  });

  it("type-checks a strict app against it (skipLibCheck: false, no Node types)", () => {
    expect(typeCheck.code, typeCheck.report).toBe(0);
  });

  it("runs as ESM against the real server: create, list, get with .withResponse(), a typed 404", async () => {
    const output = await mustRun(appDir, process.execPath, ["run-esm.mjs", server!.url, token]);
    const answer = JSON.parse(output) as {
      createdId: string;
      listedIds: string[];
      gotName: string;
      etag: string;
      requestId: string;
      missing: unknown;
    };
    expect(answer.createdId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(answer.listedIds).toContain(answer.createdId);
    expect(answer.gotName).toBe("Packed SDK");
    expect(answer.etag).toMatch(/^"\d+\.[^"]+"$/);
    expect(answer.requestId).toEqual(expect.any(String));
    expect(answer.missing).toEqual({ status: 404, code: "not_found" });
    expect(output).not.toContain("fake-password-not-a-secret");
  });

  it("loads with require() on this Node (require(esm)), one module instance with import", async () => {
    const output = await mustRun(appDir, process.execPath, ["run-cjs.cjs", server!.url, token]);
    const answer = JSON.parse(output) as { createdId: string; listedIds: string[]; sameModuleAsImport: boolean };
    expect(answer.listedIds).toContain(answer.createdId);
    expect(answer.sameModuleAsImport).toBe(true);
  });

  const pnpmMissing = spawnSync("pnpm", ["--version"], { env: outsideEnv }).status !== 0;
  it.skipIf(pnpmMissing && !process.env.CI)("packs the same files and manifest with pnpm pack", async () => {
    const pnpmTarball = await pack("pnpm", join(scratch, "pnpm-pack"));
    expect(await filesIn(pnpmTarball)).toEqual(files);
    expect(JSON.parse(await manifestTextIn(pnpmTarball))).toEqual(JSON.parse(await manifestTextIn(tarball)));
    expect(await readFile(join(SDK_DIR, "package.json"), "utf8")).toBe(workspaceManifestText);
  });
});
