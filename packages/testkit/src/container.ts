/**
 * The container image as CI builds and runs it, with podman (no Docker engine runs here):
 *
 *   - the base: scripts/container/base-image.sh assembles node:22-bookworm-slim's stand-in from
 *     Debian's mirror and npm (no image registry is reachable), passed as NODE_IMAGE;
 *   - the image: the repository's Dockerfile, `podman build --format docker` (the OCI format
 *     drops HEALTHCHECK) and `--layers=false`: on vfs every cached step is a full copy of the
 *     file system (a cold build took 5.5 min with them, 1.5 min without, and left 900 MB images
 *     behind);
 *   - containers: `--network=host` (the tests' servers stay on 127.0.0.1: each container gets
 *     HOST=127.0.0.1 and a free PORT), runc, and the ulimits these machines allow. vfs storage
 *     works on any filesystem, overlay not on every one here.
 *
 * Containers and volumes made here are removed by `removeStartedContainers()`; the images are
 * kept (a second run reuses their layers), as node_modules is.
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { REPO_ROOT } from "./deployed.js";

const PODMAN_GLOBAL = ["--storage-driver=vfs"];
const RUN_OPTIONS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network=host"];
export const CI_BASE_IMAGE = "localhost/modbox-ci/node:22-bookworm-slim";
export const IMAGE = "localhost/modbox-registries:ci";
/** A cold build on a busy two-core machine with vfs: minutes (each layer is a full copy). */
const BUILD_TIMEOUT_MS = 30 * 60_000;

/** The commands the container tests need that are not installed (Debian: podman runc mmdebstrap). */
export function missingContainerTools(): string[] {
  return ["podman", "runc", "mmdebstrap"].filter((command) => spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs podman with the global options; resolves with its exit code and output (never rejects on a non-zero exit). */
export function podman(args: string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  return run("podman", [...PODMAN_GLOBAL, ...args], options.timeoutMs ?? 120_000);
}

function run(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: error && code === -1 ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

/** Throws with the command and the end of its output unless it exited 0. */
function ok(what: string, result: CommandResult): CommandResult {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${`${result.stdout}\n${result.stderr}`.slice(-6000)}`);
  return result;
}

export interface BuiltImage {
  tag: string;
  /** Wall-clock milliseconds of the base image step and of `podman build`. */
  baseMs: number;
  buildMs: number;
  sizeBytes: number;
}

/** The CI base image (if not already there), then the repository's Dockerfile on it. */
export async function buildImage(): Promise<BuiltImage> {
  let started = performance.now();
  ok("scripts/container/base-image.sh", await run("bash", [join(REPO_ROOT, "scripts/container/base-image.sh"), CI_BASE_IMAGE], BUILD_TIMEOUT_MS, {
    ...process.env,
    PODMAN: ["podman", ...PODMAN_GLOBAL].join(" "),
  }));
  const baseMs = performance.now() - started;
  const previous = await imageId(IMAGE);
  started = performance.now();
  // Behind this machine's TLS-intercepting proxy npm needs its CA: a build secret, never a layer.
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  ok(
    "podman build",
    await podman(
      [
        "build",
        ...RUN_OPTIONS,
        "--format",
        "docker",
        "--layers=false",
        "--build-arg",
        `NODE_IMAGE=${CI_BASE_IMAGE}`,
        ...(ca ? ["--secret", `id=npm_ca,src=${ca}`] : []),
        "--tag",
        IMAGE,
        ".",
      ],
      { timeoutMs: BUILD_TIMEOUT_MS },
    ),
  );
  const buildMs = performance.now() - started;
  // The tag moved to the new image: the one it named before is ours and unused.
  if (previous && previous !== (await imageId(IMAGE))) await podman(["rmi", previous]);
  const size = ok("podman image inspect", await podman(["image", "inspect", "--format", "{{.Size}}", IMAGE]));
  return { tag: IMAGE, baseMs, buildMs, sizeBytes: Number(size.stdout.trim()) };
}

async function imageId(tag: string): Promise<string | undefined> {
  const inspected = await podman(["image", "inspect", "--format", "{{.Id}}", tag]);
  return inspected.code === 0 ? inspected.stdout.trim() : undefined;
}

export interface ImageConfig {
  User: string;
  Env: string[];
  Volumes: Record<string, unknown> | null;
  WorkingDir: string;
  Cmd: string[];
  StopSignal?: string;
  Healthcheck?: { Test: string[]; Interval: number; Timeout: number; StartPeriod: number; Retries: number };
}

/** The image's configuration; the HEALTHCHECK sits beside it in podman's answer (Docker's format only). */
export async function imageConfig(tag = IMAGE): Promise<ImageConfig> {
  const inspected = ok("podman image inspect", await podman(["image", "inspect", tag]));
  const [image] = JSON.parse(inspected.stdout) as [{ Config: ImageConfig; Healthcheck?: ImageConfig["Healthcheck"] }];
  return { ...image.Config, ...(image.Healthcheck && { Healthcheck: image.Healthcheck }) };
}

/** Runs `command` in a new container of the image and removes it: a one-off (a CLI, a look inside). */
export async function runOnce(command: string[], options: { env?: Record<string, string>; mounts?: string[] } = {}): Promise<CommandResult> {
  return podman(["run", "--rm", ...RUN_OPTIONS, ...runArgs(options), IMAGE, ...command], { timeoutMs: 180_000 });
}

function runArgs(options: { env?: Record<string, string>; mounts?: string[] }): string[] {
  return [...Object.entries(options.env ?? {}).flatMap(([name, value]) => ["--env", `${name}=${value}`]), ...(options.mounts ?? []).flatMap((mount) => ["--volume", mount])];
}

const startedContainers = new Set<string>();
const createdVolumes = new Set<string>();

/** A named volume removed by removeStartedContainers(). */
export function volumeName(purpose: string): string {
  const name = `modbox-test-${purpose}-${randomBytes(4).toString("hex")}`;
  createdVolumes.add(name);
  return name;
}

export interface RunningContainer {
  name: string;
  url: string;
  logs(): Promise<string>;
  /** `podman healthcheck run`: the image's HEALTHCHECK, run now. */
  healthcheck(): Promise<CommandResult>;
  /** `podman stop` (the image's STOPSIGNAL, SIGKILL after `timeoutSeconds`), then the exit code and the seconds it took. */
  stop(timeoutSeconds?: number): Promise<{ exitCode: number; seconds: number }>;
}

/** Starts a container of the image on `port` and resolves once it logs that it listens. */
export async function startContainer(port: number, options: { env?: Record<string, string>; mounts?: string[]; startTimeoutMs?: number } = {}): Promise<RunningContainer> {
  const name = `modbox-test-${randomBytes(4).toString("hex")}`;
  startedContainers.add(name);
  ok(
    "podman run",
    await podman(["run", "--detach", "--name", name, ...RUN_OPTIONS, ...runArgs({ ...options, env: { HOST: "127.0.0.1", PORT: String(port), ...options.env } }), IMAGE]),
  );
  const logs = async () => {
    const result = await podman(["logs", name]);
    return `${result.stdout}${result.stderr}`;
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  for (;;) {
    const output = await logs();
    if (output.includes("modbox registries server listening")) break;
    const state = await podman(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name]);
    if (state.stdout.startsWith("exited")) throw new Error(`the container exited (${state.stdout.trim()}) before listening:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the container did not listen in time:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    logs,
    healthcheck: () => podman(["healthcheck", "run", name]),
    stop: async (timeoutSeconds = 30) => {
      const started = performance.now();
      ok("podman stop", await podman(["stop", "--time", String(timeoutSeconds), name], { timeoutMs: (timeoutSeconds + 30) * 1000 }));
      const seconds = (performance.now() - started) / 1000;
      const state = ok("podman inspect", await podman(["inspect", "--format", "{{.State.ExitCode}}", name]));
      return { exitCode: Number(state.stdout.trim()), seconds };
    },
  };
}

/** Removes every container started and volume named here (by name: only ours). */
export async function removeStartedContainers(): Promise<void> {
  for (const name of startedContainers) await podman(["rm", "--force", "--time", "0", name]);
  startedContainers.clear();
  for (const volume of createdVolumes) await podman(["volume", "rm", "--force", volume]);
  createdVolumes.clear();
}
