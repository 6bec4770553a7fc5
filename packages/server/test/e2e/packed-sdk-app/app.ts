/**
 * An application outside the workspace, written against the packed @modbox/sdk as npm installed
 * it: type-checked strictly (consumer.tsconfig.json, library files included), then compiled and
 * run against a real server by run-esm.mjs. The server's tsconfig checks it against the
 * workspace's SDK too, so an API change breaks it before a pack does.
 */
import { createClient, ModboxError, NotFoundError, type Registry } from "@modbox/sdk";
import type { components } from "@modbox/sdk/openapi";

export async function exercise(baseUrl: string, token: string) {
  const client = createClient({ baseUrl, token, workspaceId: "packed-sdk" });
  const created: Registry = await client.registries.create({
    name: "Packed SDK",
    server: "registry.example.com",
    username: "robot",
    password: "fake-password-not-a-secret",
  });
  // Proves the types are the SDK's, not `any`: if `password` were readable, this directive
  // would be unused, and an unused @ts-expect-error fails the check.
  // @ts-expect-error the password is write-only: no response has one
  void created.password;

  const page = await client.registries.list({ limit: 10 });
  const { data, etag, requestId } = await client.registries.get(created.id).withResponse();
  const schema: components["schemas"]["Registry"] = data; // the "./openapi" subpath resolves

  let missing: { status: number; code: string | undefined } | undefined;
  try {
    await client.registries.get("00000000-0000-7000-8000-000000000000");
  } catch (err) {
    if (!(err instanceof NotFoundError && err instanceof ModboxError)) throw err;
    missing = { status: err.status, code: err.code };
  }
  return { createdId: created.id, listedIds: page.data.map((r) => r.id), gotName: schema.name, etag, requestId, missing };
}
