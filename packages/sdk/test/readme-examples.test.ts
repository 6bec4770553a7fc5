import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, test } from "vitest";
import { Provisioning, Registries, SandboxImages, Tokens } from "../src/index.js";

// The README is the SDK's manual: its examples must compile against the SDK as it is, and it
// must show every resource method. Each ```ts block is type-checked as its own module, strict,
// against the sources, with `client`, `id` and `imageId` declared as the README says.

const sdkRoot = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(sdkRoot, "README.md"), "utf8");
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);

const GLOBALS = `import type { ModboxClient } from "@modbox/sdk";
declare global {
  const client: ModboxClient;
  const id: string;
  const imageId: string;
}
`;

const scratch = mkdtempSync(join(tmpdir(), "sdk-readme-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("README examples", () => {
  test("there are examples to check", () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
  });

  test("every example type-checks (strict)", () => {
    const files = examples.map((code, index) => {
      const file = join(scratch, `example-${index + 1}.ts`);
      writeFileSync(file, code);
      return file;
    });
    const globals = join(scratch, "globals.d.ts");
    writeFileSync(globals, GLOBALS);
    const program = ts.createProgram([globals, ...files], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2024.d.ts", "lib.dom.d.ts"],
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      moduleDetection: ts.ModuleDetectionKind.Force,
      skipLibCheck: true,
      types: ["node"],
      typeRoots: [join(sdkRoot, "node_modules/@types")],
      paths: { "@modbox/sdk": [join(sdkRoot, "src/index.ts")] },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file
        ? `${diagnostic.file.fileName.slice(scratch.length + 1)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
        : "";
      return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
    });
    expect(problems).toEqual([]);
  }, 120_000); // a whole-program type-check: seconds, more on a busy machine

  test.each([
    ["registries", Registries],
    ["sandboxImages", SandboxImages],
    ["provisioning", Provisioning],
    ["tokens", Tokens],
  ] as const)("every method of client.%s is shown", (name, resource) => {
    const methods = Object.getOwnPropertyNames(resource.prototype).filter((key) => key !== "constructor");
    expect(methods.length).toBeGreaterThan(0);
    const missing = methods.filter((method) => !new RegExp(`\\.${name}\\s*\\.${method}\\(`).test(readme));
    expect(missing).toEqual([]);
  });
});
