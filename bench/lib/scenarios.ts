/**
 * The HTTP scenarios. Each builds its requests against the same URLs on both servers (ours and
 * the baseline speak the same paths); ids come from the seeded workspace, names are unique.
 */
import { randomBytes } from "node:crypto";
import type { RequestShape } from "./load.js";
import { fakeToken } from "./seed.js";

export interface ScenarioContext {
  /** Live registries of the workspace under test. */
  registryIds: string[];
  /** Its ghcr.io registries (a GitHub token and a ghcr.io image pass the provider checks). */
  ghcrRegistryIds: string[];
  /** Its images that resolve to credentials (linked to an enabled ghcr.io registry). */
  pullableImageIds: string[];
}

export interface HttpScenario {
  id: string;
  title: (workspaceRegistries: number) => string;
  kind: "read" | "write";
  /** Which token the requests carry: the workspace token (default) or the provisioner's. */
  token?: "workspace" | "provisioner";
  next: (ctx: ScenarioContext) => () => RequestShape;
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

function uniqueNames(prefix: string): () => string {
  const run = randomBytes(4).toString("hex");
  let n = 0;
  return () => `${prefix}-${run}-${n++}`;
}

export const HTTP_SCENARIOS: HttpScenario[] = [
  {
    id: "list",
    title: (n) => `list a page of 50 out of ${n.toLocaleString("en-US")}`,
    kind: "read",
    next: () => () => ({ method: "GET", path: "/registries?limit=50" }),
  },
  {
    id: "get",
    title: () => "get one registry",
    kind: "read",
    next: (ctx) => () => ({ method: "GET", path: `/registries/${pick(ctx.registryIds)}` }),
  },
  {
    id: "create",
    title: () => "create a registry (encrypt + insert)",
    kind: "write",
    next: () => {
      const name = uniqueNames("bench-registry");
      return () => ({
        method: "POST",
        path: "/registries",
        body: JSON.stringify({
          name: name(),
          server: "ghcr.io",
          username: "bench-robot",
          password: fakeToken(),
          email: "ops@example.com",
        }),
      });
    },
  },
  {
    id: "rotate",
    title: () => "rotate a password (PUT)",
    kind: "write",
    next: (ctx) => () => ({
      method: "PUT",
      path: `/registries/${pick(ctx.ghcrRegistryIds)}`,
      body: JSON.stringify({ password: fakeToken() }),
    }),
  },
  {
    id: "image-create",
    title: () => "create a sandbox image linked to a registry",
    kind: "write",
    next: (ctx) => {
      const name = uniqueNames("bench-image");
      return () => ({
        method: "POST",
        path: "/sandbox-images",
        body: JSON.stringify({
          name: name(),
          image: "ghcr.io/acme/private-app",
          tag: "v1.2.3",
          registry_id: pick(ctx.ghcrRegistryIds),
        }),
      });
    },
  },
  {
    id: "pull-credentials",
    title: () => "resolve pull credentials (decrypt)",
    kind: "read",
    token: "provisioner",
    next: (ctx) => () => ({ method: "POST", path: `/sandbox-images/${pick(ctx.pullableImageIds)}/pull-credentials` }),
  },
];

/** Scenarios the issue asks for whose endpoint does not exist yet: listed, never given a number. */
export const PENDING_SCENARIOS: { id: string; title: string; status: "pending"; note: string }[] = [];

/** The scenarios of the scale comparison (run at the small and the large workspace). */
export const SCALE_SCENARIO_IDS = ["list", "get"] as const;
