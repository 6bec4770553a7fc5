/**
 * Seeds a migrated database directly with SQL (batched multi-row inserts), with rows of the shape
 * the server writes: UUIDv7 ids spread over months (so ids interleave across workspaces as in a
 * real table), and real AES-256-GCM envelopes from @modbox/crypto under the key the server runs
 * with, bound to their row, so their length is real and a future decrypt scenario can read them.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Cipher } from "@modbox/crypto";
import postgres from "postgres";
import { providerOf, referenceOf } from "../../packages/server/src/db/derived-columns.js";
import { uuidv7 } from "../../packages/server/src/services/ids.js";

export interface SeedSpec {
  /** The workspace the scenarios run in. */
  workspaceId: string;
  /** Registries in that workspace. */
  registries: number;
  /** Other workspaces filled beside it, each with this many registries. */
  otherWorkspaces: number;
  registriesPerOtherWorkspace: number;
  /** Sandbox images per workspace, as a fraction of its registries (70 % linked to a registry). */
  imagesPerRegistry: number;
  /**
   * A `provisioner`-scope API token granted the workspace under test, stored as the server
   * stores tokens (SHA-256 hex of the whole token), for the pull-credentials scenario.
   */
  provisionerToken: string;
}

export interface SeedResult {
  /** Up to 2,000 ids of live registries in the target workspace, for get. */
  sampleRegistryIds: string[];
  /**
   * Up to 2,000 ids of its ghcr.io registries, for rotate and link: the server checks a password
   * and an image host against the registry's provider, and the bench sends GitHub tokens and
   * ghcr.io images.
   */
  sampleGhcrRegistryIds: string[];
  /**
   * Every one of those ghcr.io registries (the rotate half, not only a sample): the key rotation
   * scenario's password PUTs go to all of them.
   */
  ghcrRegistryIds: string[];
  /**
   * Up to 2,000 ids of its images that resolve to credentials: linked to an enabled ghcr.io
   * registry (the images are ghcr.io images, and a host mismatch or a disabled registry is refused).
   */
  samplePullableImageIds: string[];
  totalRegistries: number;
  totalImages: number;
  seconds: number;
}

const SERVERS = [
  "ghcr.io",
  "registry-1.docker.io",
  "europe-docker.pkg.dev",
  "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
  "myregistry.azurecr.io",
  "registry.gitlab.com",
];
const DAY_MS = 86_400_000;
const BATCH = 2_000;

/** A 40-character token, the length of a GitHub personal access token. */
export function fakeToken(): string {
  return `ghp_${randomBytes(27).toString("base64url")}`;
}

export async function seedDatabase(url: string, spec: SeedSpec, cipher: Cipher): Promise<SeedResult> {
  const started = performance.now();
  const sql = postgres(url, { max: 2, onnotice: () => {}, connect_timeout: 10 });
  try {
    const workspaces = [
      { id: spec.workspaceId, count: spec.registries },
      ...Array.from({ length: spec.otherWorkspaces }, (_, i) => ({
        id: `ws-beside-${String(i + 1).padStart(2, "0")}`,
        count: spec.registriesPerOtherWorkspace,
      })),
    ];
    const end = Date.now() - DAY_MS;
    const span = 180 * DAY_MS;
    let totalRegistries = 0;
    let totalImages = 0;
    let sample: string[] = [];
    let sampleGhcr: string[] = [];
    let allGhcr: string[] = [];
    let samplePullable: string[] = [];

    for (const workspace of workspaces) {
      const ids: string[] = [];
      const ghcrIds: string[] = [];
      let batch: Record<string, unknown>[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await sql`insert into registries ${sql(batch as never)}`;
        batch = [];
      };
      for (let i = 0; i < workspace.count; i++) {
        // Evenly spread over 180 days, with jitter, so workspaces interleave in id order.
        const at = end - span + Math.floor(((i + Math.random()) * span) / workspace.count);
        const id = uuidv7(at);
        ids.push(id);
        const server = SERVERS[i % SERVERS.length]!;
        // ghcr.io registries are every 6th; half of them (index % 12 === 0) go to rotate and link,
        // the other half keep their seeded envelope for pull-credentials (a rotation by the
        // baseline writes a placeholder envelope that no longer decrypts).
        if (server === "ghcr.io" && i % 12 === 0) ghcrIds.push(id);
        const passwordCiphertext = cipher.encrypt(fakeToken(), { workspace_id: workspace.id, registry_id: id });
        batch.push({
          id,
          workspace_id: workspace.id,
          name: `registry-${String(i).padStart(6, "0")}`,
          server,
          provider: providerOf(server),
          username: `robot-${i}`,
          email: i % 2 === 0 ? `ops+${i}@example.com` : null,
          enabled: i % 10 !== 0,
          password_ciphertext: passwordCiphertext,
          password_key_id: cipher.keyIdOf(passwordCiphertext),
          version: 1,
          created_at: new Date(at),
          updated_at: new Date(at),
        });
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      totalRegistries += workspace.count;

      const images = Math.floor(workspace.count * spec.imagesPerRegistry);
      const pullable: string[] = [];
      for (let i = 0; i < images; i++) {
        const at = end - span + Math.floor(((i + Math.random()) * span) / Math.max(images, 1));
        const linked = i % 10 < 7 && ids.length > 0;
        const registryIndex = (i * 7919) % Math.max(ids.length, 1);
        const imageId = uuidv7(at);
        // The registry at index j is SERVERS[j % 6] and enabled unless j % 10 === 0 (above);
        // j % 12 === 6: a ghcr.io registry that rotate never touches.
        if (linked && registryIndex % 12 === 6 && registryIndex % 10 !== 0) pullable.push(imageId);
        const image = `ghcr.io/${workspace.id}/app-${i % 50}`;
        const tag = i % 3 === 0 ? "latest" : `v1.${i % 40}.0`;
        batch.push({
          id: imageId,
          workspace_id: workspace.id,
          name: `image-${String(i).padStart(6, "0")}`,
          image,
          tag,
          reference: referenceOf(image, tag),
          registry_id: linked ? ids[registryIndex]! : null,
          description: i % 4 === 0 ? `Image ${i} of ${workspace.id}` : null,
          enabled: true,
          is_default: false,
          memory_mb: 1024,
          ttl_seconds: null,
          readiness_port: i % 5 === 0 ? 8080 : null,
          version: 1,
          created_at: new Date(at),
          updated_at: new Date(at),
        });
        if (batch.length >= BATCH) {
          await sql`insert into sandbox_images ${sql(batch as never)}`;
          batch = [];
        }
      }
      if (batch.length > 0) await sql`insert into sandbox_images ${sql(batch as never)}`;
      batch = [];
      totalImages += images;

      if (workspace.id === spec.workspaceId) {
        sample = pickSample(ids, 2_000);
        sampleGhcr = pickSample(ghcrIds, 2_000);
        allGhcr = ghcrIds;
        samplePullable = pickSample(pullable, 2_000);
      }
    }

    await sql`
      insert into api_tokens (id, name, token_hash, scope, workspace_ids, created_at)
      values (${uuidv7()}, 'bench-provisioner', ${createHash("sha256").update(spec.provisionerToken, "utf8").digest("hex")},
        'provisioner', ${sql.array([spec.workspaceId])}, now())`;

    await sql`vacuum (analyze) registries`;
    await sql`vacuum (analyze) sandbox_images`;
    return { sampleRegistryIds: sample, sampleGhcrRegistryIds: sampleGhcr, ghcrRegistryIds: allGhcr, samplePullableImageIds: samplePullable, totalRegistries, totalImages, seconds: (performance.now() - started) / 1000 };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function pickSample<T>(items: T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}
