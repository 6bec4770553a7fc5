// The CommonJS door: `require("@modbox/sdk")` loads the ESM build (require(esm), Node >= 20.19,
// which needs a synchronous module graph: no top-level await anywhere in the SDK or its
// dependencies). node run-cjs.cjs <baseUrl> <token>.
const sdk = require("@modbox/sdk");

async function main() {
  const [baseUrl, token] = process.argv.slice(2);
  const client = sdk.createClient({ baseUrl, token, workspaceId: "packed-sdk" });
  const created = await client.registries.create({
    name: "Packed SDK (require)",
    server: "registry.example.com",
    username: "robot",
    password: "fake-password-not-a-secret",
  });
  const page = await client.registries.list();
  // One module instance for both doors: no dual-package hazard (instanceof works across them).
  const imported = await import("@modbox/sdk");
  console.log(
    JSON.stringify({
      createdId: created.id,
      listedIds: page.data.map((r) => r.id),
      sameModuleAsImport: imported.createClient === sdk.createClient && imported.NotFoundError === sdk.NotFoundError,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
