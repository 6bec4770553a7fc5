/**
 * A minimal OCI image layout, built by hand (no docker, no tar CLI): one gzip tar layer holding a
 * single small file, an image config, an OCI manifest, `index.json` (with
 * `org.opencontainers.image.ref.name` = tag) and `oci-layout`. skopeo copies it with
 * `oci:<dir>:<tag>`. Deterministic: the same tag and content give the same digests.
 *
 * Calling it again on the same directory adds (or replaces) a tag in the same layout.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";

export interface BuildOciLayoutOptions {
  tag: string;
  /** Path of the single file inside the layer. Default `hello.txt`. */
  fileName?: string;
  /** Its content. Default `hello from modbox registries test image <tag>\n` (so tags differ). */
  content?: string | Buffer;
}

export interface OciLayout {
  /** The layout directory. */
  dir: string;
  tag: string;
  /** `oci:<dir>:<tag>`, a skopeo source/destination. */
  reference: string;
  /** `sha256:…` of the manifest: the digest a registry reports after a push that keeps it as is. */
  manifestDigest: string;
  manifest: string;
  configDigest: string;
  layerDigest: string;
  /** `sha256:…` of the uncompressed tar (the config's `rootfs.diff_ids[0]`). */
  diffId: string;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** A POSIX ustar archive with one regular file (512-byte header, data padded, two zero blocks). */
export function makeTar(fileName: string, content: Buffer): Buffer {
  if (Buffer.byteLength(fileName) > 100) throw new Error("makeTar: file name longer than 100 bytes");
  const header = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, length: number) => header.write(text, offset, length, "utf8");
  put(fileName, 0, 100); // name
  put(octal(0o644, 8), 100, 8); // mode
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(content.length, 12), 124, 12); // size
  put(octal(0, 12), 136, 12); // mtime (epoch: reproducible)
  put("        ", 148, 8); // checksum placeholder: 8 spaces
  put("0", 156, 1); // typeflag: regular file
  put("ustar\0", 257, 6); // magic
  put("00", 263, 2); // version
  put("root", 265, 32); // uname
  put("root", 297, 32); // gname
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024, 0)]);
}

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const digest = sha256(data);
  const blobDir = join(dir, "blobs", "sha256");
  mkdirSync(blobDir, { recursive: true });
  writeFileSync(join(blobDir, digest.slice("sha256:".length)), data);
  return { digest, size: Buffer.byteLength(data) };
}

export function buildOciLayout(dir: string, options: BuildOciLayoutOptions): OciLayout {
  const { tag } = options;
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new Error(`invalid tag ${JSON.stringify(tag)}`);
  mkdirSync(dir, { recursive: true });

  const content = Buffer.from(options.content ?? `hello from modbox registries test image ${tag}\n`);
  const tar = makeTar(options.fileName ?? "hello.txt", content);
  const diffId = sha256(tar);
  const layer = writeBlob(dir, gzipSync(tar, { level: 9 }));

  const config = writeBlob(
    dir,
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [diffId] },
    }),
  );

  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: OCI_CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size },
    layers: [{ mediaType: OCI_LAYER_MEDIA_TYPE, digest: layer.digest, size: layer.size }],
  });
  const manifestBlob = writeBlob(dir, manifest);

  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const indexPath = join(dir, "index.json");
  type IndexEntry = { mediaType: string; digest: string; size: number; annotations?: Record<string, string> };
  const index: { schemaVersion: number; mediaType?: string; manifests: IndexEntry[] } = existsSync(indexPath)
    ? JSON.parse(readFileSync(indexPath, "utf8"))
    : { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
  index.manifests = index.manifests.filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] !== tag);
  index.manifests.push({
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    digest: manifestBlob.digest,
    size: manifestBlob.size,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  writeFileSync(indexPath, JSON.stringify(index));

  return {
    dir,
    tag,
    reference: `oci:${dir}:${tag}`,
    manifestDigest: manifestBlob.digest,
    manifest,
    configDigest: config.digest,
    layerDigest: layer.digest,
    diffId,
  };
}

/** The manifest digest an OCI layout's `index.json` records for `tag` (undefined if none). */
export function readOciLayoutDigest(dir: string, tag: string): string | undefined {
  const indexPath = join(dir, "index.json");
  if (!existsSync(indexPath)) return undefined;
  const index = JSON.parse(readFileSync(indexPath, "utf8")) as {
    manifests?: { digest: string; annotations?: Record<string, string> }[];
  };
  return index.manifests?.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag)?.digest;
}
