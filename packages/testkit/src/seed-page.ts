/**
 * The seed page ("Registries": create, list, link an image, rotate the password, delete, and the
 * safe delete's rule), walked over plain HTTP against any running server: a process started from
 * the sources, a deployed build, a container. Asserts every answer as it goes.
 */
import { expect } from "vitest";

export interface SeedWalk {
  /** Every secret the walk sent (the passwords and the token): none may appear in any log. */
  secrets: string[];
  /** The registry left at the end (linked to the image), for a check after a restart. */
  keptRegistryId: string;
}

const PASSWORDS = { first: "ghp_your_personal_access_token", rotated: "new_token_here", bot: "ghp_your_bot_token" };

export async function walkSeedPage(baseUrl: string, token: string, workspace = "your-workspace-id"): Promise<SeedWalk> {
  const headers = { authorization: `Bearer ${token}`, "x-workspace-id": workspace, "content-type": "application/json" };
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });

  const created = await call("POST", "/registries", {
    name: "GitHub Container Registry",
    server: "ghcr.io",
    username: "your-github-username",
    password: PASSWORDS.first,
    email: "you@yourcompany.com",
  });
  expect(created.status).toBe(201);
  const registry = (await created.json()) as { id: string };

  const list = await call("GET", "/registries");
  const listText = await list.text();
  expect(list.status).toBe(200);
  expect(listText).toContain(registry.id);
  expect(listText).not.toContain(PASSWORDS.first);

  const image = await call("POST", "/sandbox-images", {
    name: "Our Private App",
    image: "ghcr.io/your-org/your-image",
    tag: "latest",
    registry_id: registry.id,
  });
  expect(image.status).toBe(201);
  const linked = (await image.json()) as { id: string; registry_name: string; reference: string };
  expect(linked).toMatchObject({ registry_name: "GitHub Container Registry", reference: "ghcr.io/your-org/your-image:latest" });

  const rotated = await call("PUT", `/registries/${registry.id}`, { password: PASSWORDS.rotated });
  expect(rotated.status).toBe(200);

  // "Deleting a registry will cause any images linked to it to fail to pull. Update the linked
  // images to use a different registry first." The server holds the user to it: the delete is
  // refused while the image is linked, and names the image to update.
  const refused = await call("DELETE", `/registries/${registry.id}`);
  expect(refused.status).toBe(409);
  expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(await refused.json()).toEqual({
    type: "https://modbox.dev/problems/registry_in_use",
    title: "Conflict",
    status: 409,
    code: "registry_in_use",
    detail: expect.any(String),
    instance: `/registries/${registry.id}`,
    request_id: refused.headers.get("x-request-id"),
    linked_image_ids: [linked.id],
    linked_image_count: 1,
  });
  expect((await call("GET", `/registries/${registry.id}`)).status).toBe(200);

  // Following the seed page: link the image to a different registry, then delete.
  const replacement = await call("POST", "/registries", {
    name: "GitHub Container Registry (bot)",
    server: "ghcr.io",
    username: "your-github-bot",
    password: PASSWORDS.bot,
  });
  expect(replacement.status).toBe(201);
  const replacementId = ((await replacement.json()) as { id: string }).id;
  const relinked = await call("PUT", `/sandbox-images/${linked.id}`, { registry_id: replacementId });
  expect(relinked.status).toBe(200);
  expect(await relinked.json()).toMatchObject({ registry_id: replacementId, registry_name: "GitHub Container Registry (bot)" });

  const deleted = await call("DELETE", `/registries/${registry.id}`);
  expect(deleted.status).toBe(204);
  expect((await call("GET", `/registries/${registry.id}`)).status).toBe(404);

  return { secrets: [...Object.values(PASSWORDS), token], keptRegistryId: replacementId };
}
