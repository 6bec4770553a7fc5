/**
 * skopeo, the real client that proves credentials pull images.
 *
 * Every run is sandboxed: `execFile` (never a shell), 60 s timeout, a fresh temp HOME /
 * XDG_RUNTIME_DIR / XDG_CONFIG_HOME / REGISTRY_AUTH_FILE / registries.conf / registries.d / policy
 * (insecureAcceptAnything: our images are unsigned) / TMPDIR, so skopeo never reads or writes the
 * user's own auth file or configuration, and `--tls-verify=true` (trusting only the test CA given
 * with `--cert-dir`) unless the registry speaks plain HTTP (`tls: false`): then
 * `--tls-verify=false`, which is how skopeo is told a registry is insecure.
 *
 * Secrets: only `pushImage` puts credentials on a command line (`--creds`, `--dest-creds`); the
 * pull helpers take an auth file, as a provisioner would. Passwords, `user:password` and its
 * base64 (and the secrets of the auth file given) are replaced by `***` in every returned output
 * and thrown message.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOciLayout, readOciLayoutDigest, type OciLayout } from "./oci-image.js";

/** The `skopeo` binary; override with SKOPEO_BIN. */
export const skopeoBin = process.env.SKOPEO_BIN ?? "skopeo";
export const SKOPEO_TIMEOUT_MS = 60_000;

export interface SkopeoResult {
  ok: boolean;
  /** Exit code (null when killed). */
  exitCode: number | null;
  timedOut: boolean;
  /** Scrubbed of secrets. */
  stdout: string;
  /** Scrubbed of secrets. */
  stderr: string;
  /** The command as it may be shown (secrets scrubbed). */
  command: string;
  /** `sha256:…` manifest digest: `Digest` of `inspect`, the pulled manifest of `copy`. */
  digest?: string;
}

/** Where a registry is: `TestRegistry` fits. */
export interface RegistryEndpoint {
  host: string;
  certDir: string;
  /** `false`: the registry speaks plain HTTP. Default `true`. */
  tls?: boolean;
}

/** How skopeo reaches a registry: its CA (TLS verified), or `false` for plain HTTP. */
export interface TransportOptions {
  /** `false`: plain HTTP (`--tls-verify=false`, no cert dir), for an insecure registry. Default `true`. */
  tlsVerify?: boolean;
}

/** `--<prefix>tls-verify=…` and, when verifying, `--<prefix>cert-dir <certDir>`. */
function tlsArgs(prefix: "" | "src-" | "dest-", certDir: string, tlsVerify: boolean): string[] {
  return tlsVerify ? [`--${prefix}tls-verify=true`, `--${prefix}cert-dir`, certDir] : [`--${prefix}tls-verify=false`];
}

// ---------------------------------------------------------------------------------------------

function secretVariants(user: string | undefined, password: string | undefined): string[] {
  const out: string[] = [];
  if (password) {
    out.push(password);
    if (user !== undefined) {
      out.push(`${user}:${password}`, Buffer.from(`${user}:${password}`).toString("base64"));
    }
  }
  return out;
}

/** Secrets an auth file holds: `auth` values, their decoded passwords, tokens. */
function authFileSecrets(authFilePath: string): string[] {
  const secrets: string[] = [];
  try {
    const json = JSON.parse(readFileSync(authFilePath, "utf8")) as {
      auths?: Record<string, { auth?: string; password?: string; identitytoken?: string; registrytoken?: string; username?: string }>;
    };
    for (const entry of Object.values(json.auths ?? {})) {
      if (entry.auth) {
        secrets.push(entry.auth);
        const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon >= 0) secrets.push(...secretVariants(decoded.slice(0, colon), decoded.slice(colon + 1)));
      }
      for (const s of [entry.password, entry.identitytoken, entry.registrytoken]) if (s) secrets.push(s);
    }
  } catch {
    /* unreadable or not JSON: skopeo will say so */
  }
  return secrets;
}

export function scrub(text: string, secrets: string[]): string {
  // longest first, so `user:password` is replaced whole before `password`
  let out = text;
  for (const secret of [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join("***");
  }
  return out;
}

/** Runs skopeo in a throwaway sandbox (see the file comment). Never throws for a failing skopeo. */
export async function runSkopeo(args: string[], secrets: string[] = []): Promise<SkopeoResult> {
  const sandbox = mkdtempSync(join(tmpdir(), "modbox-skopeo-"));
  try {
    const runtimeDir = join(sandbox, "run");
    const configDir = join(sandbox, "config");
    const registriesD = join(sandbox, "registries.d");
    const tmp = join(sandbox, "tmp");
    for (const d of [runtimeDir, configDir, registriesD, tmp]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const policy = join(sandbox, "policy.json");
    writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
    const registriesConf = join(sandbox, "registries.conf");
    writeFileSync(registriesConf, "unqualified-search-registries = []\n");
    const emptyAuthFile = join(sandbox, "auth.json");
    writeFileSync(emptyAuthFile, JSON.stringify({ auths: {} }), { mode: 0o600 });

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: sandbox,
      XDG_RUNTIME_DIR: runtimeDir,
      XDG_CONFIG_HOME: configDir,
      REGISTRY_AUTH_FILE: emptyAuthFile,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      TMPDIR: tmp,
      NO_PROXY: "127.0.0.1,localhost,::1",
      no_proxy: "127.0.0.1,localhost,::1",
      LANG: "C",
    };
    const fullArgs = ["--policy", policy, "--registries.d", registriesD, ...args];
    const command = scrub([skopeoBin, ...fullArgs].join(" "), secrets);

    return await new Promise<SkopeoResult>((resolve) => {
      execFile(
        skopeoBin,
        fullArgs,
        { env, timeout: SKOPEO_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
        (error, stdout, stderr) => {
          const e = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
          const exitCode = e ? (typeof e.code === "number" ? e.code : null) : 0;
          const spawnProblem = e && typeof e.code === "string" ? `${e.code}: ${e.message}\n` : "";
          const timedOut = Boolean(e?.killed);
          resolve({
            ok: !e,
            exitCode,
            timedOut,
            stdout: scrub(stdout ?? "", secrets),
            stderr: scrub(`${spawnProblem}${timedOut ? `skopeo timed out after ${SKOPEO_TIMEOUT_MS} ms\n` : ""}${stderr ?? ""}`, secrets),
            command,
          });
        },
      );
    });
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
}

function describeFailure(what: string, result: SkopeoResult): string {
  return `${what} failed (${result.timedOut ? "timed out" : `exit ${result.exitCode}`}): ${result.command}\n${result.stderr.trim()}`;
}

/** `host/name:tag` or `docker://host/name:tag` → `docker://host/name:tag`. */
function dockerRef(ref: string): string {
  return ref.startsWith("docker://") ? ref : `docker://${ref}`;
}

/** The tag of a reference (`latest` if none); for a digest reference, `pulled`. */
function tagOf(ref: string): string {
  const withoutScheme = ref.replace(/^docker:\/\//, "");
  if (withoutScheme.includes("@")) return "pulled";
  const lastSlash = withoutScheme.lastIndexOf("/");
  const lastPart = withoutScheme.slice(lastSlash + 1);
  const colon = lastPart.lastIndexOf(":");
  return colon >= 0 ? lastPart.slice(colon + 1) : "latest";
}

function parseDigest(stdout: string): string | undefined {
  try {
    const digest = (JSON.parse(stdout) as { Digest?: unknown }).Digest;
    return typeof digest === "string" ? digest : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

export interface PushImageOptions {
  user?: string;
  password?: string;
  /** An OCI layout to push (its `tag`); default: a fresh minimal image built for the tag. */
  layout?: OciLayout;
}

/**
 * Pushes a (minimal, built on the fly) image to `registry` as `name:tag` (`org/image:v1`; no tag
 * = `latest`) with `--dest-creds`, then returns the manifest digest `skopeo inspect` reports.
 * Throws (secrets scrubbed) when either fails.
 */
export async function pushImage(registry: RegistryEndpoint, nameAndTag: string, options: PushImageOptions = {}): Promise<string> {
  const tag = tagOf(nameAndTag);
  const name = nameAndTag.includes(":") ? nameAndTag.slice(0, nameAndTag.lastIndexOf(":")) : nameAndTag;
  const target = `docker://${registry.host}/${name}:${tag}`;
  const creds = options.user !== undefined ? `${options.user}:${options.password ?? ""}` : undefined;
  const secrets = secretVariants(options.user, options.password);

  const scratch = options.layout ? undefined : mkdtempSync(join(tmpdir(), "modbox-oci-"));
  try {
    const layout = options.layout ?? buildOciLayout(join(scratch!, "layout"), { tag });
    const copy = await runSkopeo(
      [
        "copy", "--retry-times", "0", ...tlsArgs("dest-", registry.certDir, registry.tls !== false),
        ...(creds ? ["--dest-creds", creds] : []),
        layout.reference, target,
      ],
      secrets,
    );
    if (!copy.ok) throw new Error(describeFailure(`push of ${name}:${tag}`, copy));

    const inspect = await runSkopeo(
      ["inspect", "--retry-times", "0", ...tlsArgs("", registry.certDir, registry.tls !== false), ...(creds ? ["--creds", creds] : []), target],
      secrets,
    );
    if (!inspect.ok) throw new Error(describeFailure(`inspect after push of ${name}:${tag}`, inspect));
    const digest = parseDigest(inspect.stdout);
    if (!digest) throw new Error(`skopeo inspect after push printed no Digest: ${inspect.stdout.slice(0, 500)}`);
    return digest;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** `skopeo inspect --tls-verify=true --cert-dir <certDir> --authfile <authFile> docker://<ref>` (`--tls-verify=false` with `tlsVerify: false`). */
export async function inspectWithAuthFile(ref: string, authFilePath: string, certDir: string, options: TransportOptions = {}): Promise<SkopeoResult> {
  const result = await runSkopeo(
    ["inspect", "--retry-times", "0", ...tlsArgs("", certDir, options.tlsVerify ?? true), "--authfile", authFilePath, dockerRef(ref)],
    authFileSecrets(authFilePath),
  );
  const digest = result.ok ? parseDigest(result.stdout) : undefined;
  return digest ? { ...result, digest } : result;
}

/**
 * `skopeo copy --src-tls-verify=true --src-cert-dir <certDir> --authfile <authFile>
 * docker://<ref> oci:<destDir>:<tag>`: a real pull into an OCI layout. `digest` is the manifest
 * digest recorded in the layout's index.json for the tag (`pulled` for a digest reference).
 * With `tlsVerify: false`, `--src-tls-verify=false`: a pull from a plain-HTTP registry.
 */
export async function copyWithAuthFile(
  ref: string,
  authFilePath: string,
  certDir: string,
  destDir: string,
  options: TransportOptions = {},
): Promise<SkopeoResult> {
  const tag = tagOf(ref);
  mkdirSync(destDir, { recursive: true });
  const result = await runSkopeo(
    [
      "copy", "--retry-times", "0", ...tlsArgs("src-", certDir, options.tlsVerify ?? true), "--authfile", authFilePath,
      dockerRef(ref), `oci:${destDir}:${tag}`,
    ],
    authFileSecrets(authFilePath),
  );
  const digest = result.ok ? readOciLayoutDigest(destDir, tag) : undefined;
  return digest ? { ...result, digest } : result;
}

/** The JSON of a `config.json`/`--authfile` with one entry: `{"auths":{host:{"auth":base64(user:password)}}}`. */
export function authFileJson(host: string, user: string, password: string): string {
  return JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } });
}

/** Writes `authFileJson(...)` to `path` (mode 0600) and returns `path`. */
export function writeAuthFile(path: string, host: string, user: string, password: string): string {
  writeFileSync(path, authFileJson(host, user, password), { mode: 0o600 });
  return path;
}
