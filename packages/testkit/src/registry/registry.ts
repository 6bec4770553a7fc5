/**
 * A real private Docker registry for tests: the `docker-registry` binary of Debian (CNCF
 * distribution 2.8) with a generated config, TLS with a throwaway self-signed certificate for
 * 127.0.0.1 (or, with `tls: false`, plain HTTP: an insecure registry), listening on a free port
 * on 127.0.0.1 only, storage in a temp dir.
 *
 * - `auth: "basic"`: `auth.htpasswd` with a bcrypt htpasswd file (`htpasswd -nBi`).
 *   distribution 2.8 re-reads the htpasswd file when its mtime changes (checked empirically: a
 *   rewritten password is effective on the very next request, no restart), so `setPassword`
 *   rewrites the file atomically with a strictly increasing mtime, then checks the registry's
 *   answer, and restarts the process only if the change did not take effect.
 * - `auth: "bearer"`: `auth.token` against an in-process token server (`token-server.ts`) that
 *   signs with its own key/certificate (`rootcertbundle`); `setPassword` updates its user table.
 * - `auth: "none"`: anonymous registry (`GET /v2/` → 200).
 *
 * `stop()` kills exactly the process this module started (by pid), closes the token server and
 * removes the temp dir; a `process.once("exit")` fallback kills what is still running.
 */
import { findFreePort } from "../ports.js";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createSigningCertificate, createTestCertificateAuthority, opensslBin } from "../certificates.js";
import { startTokenServer, type TokenServer } from "./token-server.js";

export type TestRegistryAuth = "basic" | "bearer" | "none";

export interface StartTestRegistryOptions {
  auth: TestRegistryAuth;
  /** user → password (basic: htpasswd entries; bearer: token server users). Ignored for `none`. */
  users?: Record<string, string>;
  /** Bearer only: `auth.token.service` / `aud`. Default `test-registry`. */
  service?: string;
  /** Bearer only: `auth.token.issuer` / `iss`. Default `test-issuer`. */
  issuer?: string;
  /** How long to wait for `GET /v2/` to answer after (re)starting. Default 20 s. */
  readyTimeoutMs?: number;
  /**
   * `false`: the registry speaks plain HTTP (no `http.tls`), as an insecure registry does; the
   * throwaway CA is still made (a Bearer token server keeps its https). Default `true`.
   */
  tls?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`: the registry host as references and auth files spell it. */
  host: string;
  port: number;
  /** `https://127.0.0.1:<port>` (`http://…` without TLS) */
  url: string;
  /** Whether the registry speaks TLS (`tls: false` at start: plain HTTP). */
  tls: boolean;
  auth: TestRegistryAuth;
  /** The TLS certificate (self-signed, its own CA) of the registry and of the token server. */
  caCertPem: string;
  caCertPath: string;
  /** Directory holding only `ca.crt`, for `skopeo --cert-dir` / `--src-cert-dir` / `--dest-cert-dir`. */
  certDir: string;
  /** Bearer only: the token server (realm, requestCount, requests, setAccess …). */
  tokenServer?: TokenServer;
  /** Bearer only: the token realm `https://127.0.0.1:<port>/token`. */
  realm?: string;
  /** The registry's log (stderr + stdout). */
  logPath: string;
  /** The temp dir holding config, certificates, htpasswd, storage and log; removed by `stop()`. */
  dir: string;
  /** pid of the running `docker-registry` process (changes on restart). */
  readonly pid: number | undefined;
  /** Adds a user or changes a password; effective for the next request when it resolves. */
  setPassword(user: string, password: string): Promise<void>;
  /** Removes a user; its credentials are rejected from the next request on. */
  removeUser(user: string): Promise<void>;
  /** Stops the registry process and starts it again on the same port, storage and config. */
  restart(): Promise<void>;
  /** Kills the registry (pid), stops the token server, removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Binaries

/** Where the `docker-registry` binary is: REGISTRY_BIN / DOCKER_REGISTRY_BIN, /usr/bin, PATH. */
export function findRegistryBinary(): string | undefined {
  const fromEnv = process.env.DOCKER_REGISTRY_BIN ?? process.env.REGISTRY_BIN;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  if (existsSync("/usr/bin/docker-registry")) return "/usr/bin/docker-registry";
  return findOnPath("docker-registry");
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The binaries the registry harness needs that are missing (empty when all are installed):
 * docker-registry, skopeo, htpasswd (apache2-utils), openssl.
 */
export function missingRegistryBinaries(): string[] {
  const missing: string[] = [];
  if (!findRegistryBinary()) missing.push("docker-registry");
  for (const bin of [process.env.SKOPEO_BIN ?? "skopeo", "htpasswd", opensslBin]) {
    const found = bin.includes("/") ? existsSync(bin) : findOnPath(bin);
    if (!found) missing.push(bin);
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: a single exit hook kills whatever is still running.

const livePids = new Set<number>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}


function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * `GET https://127.0.0.1:<port>/v2/` trusting only `ca` (`ca: null`: plain `http://`, for a
 * registry started with `tls: false`); resolves the status (or rejects).
 */
export function getV2(
  port: number,
  ca: string | null,
  authorization?: string,
  timeoutMs = 3000,
): Promise<{ status: number; wwwAuthenticate: string | undefined }> {
  return new Promise((resolve, reject) => {
    const options = {
      host: "127.0.0.1",
      port,
      path: "/v2/",
      method: "GET",
      agent: false as const,
      timeout: timeoutMs,
      headers: authorization ? { authorization } : {},
    };
    const onResponse = (res: IncomingMessage) => {
      res.resume();
      res.on("end", () => {
        const www = res.headers["www-authenticate"];
        resolve({ status: res.statusCode ?? 0, wwwAuthenticate: Array.isArray(www) ? www.join(", ") : www });
      });
    };
    const req = ca === null ? httpRequest(options, onResponse) : httpsRequest({ ...options, ca }, onResponse);
    req.on("timeout", () => req.destroy(new Error(`GET /v2/ timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** bcrypt htpasswd line via `htpasswd -nBi` (password on stdin, never on a command line). */
function htpasswdLine(user: string, password: string): Promise<string> {
  if (user.includes(":") || /[\r\n]/.test(user)) throw new Error(`invalid htpasswd user name ${JSON.stringify(user)}`);
  return new Promise((resolve, reject) => {
    const child = spawn("htpasswd", ["-nBi", user], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`htpasswd failed to start: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = out.trim();
      if (code === 0 && line.startsWith(`${user}:$2`)) resolve(line);
      else reject(new Error(`htpasswd -nBi ${user} failed (exit ${code}): ${err.split(password).join("***").trim()}`));
    });
    child.stdin.end(`${password}\n`);
  });
}

// ---------------------------------------------------------------------------------------------

export async function startTestRegistry(options: StartTestRegistryOptions): Promise<TestRegistry> {
  const bin = findRegistryBinary();
  if (!bin) {
    throw new Error("docker-registry binary not found (Debian: apt-get install docker-registry; or set DOCKER_REGISTRY_BIN)");
  }
  installExitHook();
  const authMode = options.auth;
  const users = new Map<string, string>(authMode === "none" ? [] : Object.entries(options.users ?? {}));
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const tls = options.tls ?? true;
  const scheme = tls ? "https" : "http";

  const dir = mkdtempSync(join(tmpdir(), "modbox-registry-"));
  liveDirs.add(dir);
  const dataDir = join(dir, "data");
  const configPath = join(dir, "config.yml");
  const htpasswdPath = join(dir, "htpasswd");
  const logPath = join(dir, "registry.log");
  mkdirSync(dataDir);

  let tokenServer: TokenServer | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;
  let htpasswdMtime = 0;

  const cleanup = async () => {
    await killChild();
    await tokenServer?.stop();
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  async function writeHtpasswd(): Promise<void> {
    const lines = await Promise.all([...users].map(([u, p]) => htpasswdLine(u, p)));
    const tmp = `${htpasswdPath}.tmp`;
    writeFileSync(tmp, lines.length ? `${lines.join("\n")}\n` : "", { mode: 0o600 });
    // The registry reloads when the mtime differs from the one it parsed; file timestamps are
    // coarse (a kernel tick), so two quick rewrites could share one: force a strictly later mtime.
    htpasswdMtime = Math.max(Date.now() / 1000, htpasswdMtime + 1);
    utimesSync(tmp, htpasswdMtime, htpasswdMtime);
    renameSync(tmp, htpasswdPath); // atomic: the registry never reads a half-written file
  }

  async function killChild(): Promise<void> {
    const proc = child;
    if (!proc?.pid) return;
    const pid = proc.pid;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timedOut = await Promise.race([exited.then(() => false), sleep(5000).then(() => true)]);
      if (timedOut) {
        proc.kill("SIGKILL");
        await exited;
      }
    }
    livePids.delete(pid);
    child = undefined;
  }

  let port = 0;

  async function launch(): Promise<void> {
    const logFd = openSync(logPath, "a");
    // distribution maps REGISTRY_* environment variables onto its config (REGISTRY_AUTH_FILE,
    // skopeo's variable, would become `auth.file`): the child gets none of them.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("REGISTRY_")));
    let proc: ChildProcess;
    try {
      proc = spawn(bin!, ["serve", configPath], { cwd: dir, env, stdio: ["ignore", logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    child = proc;
    exited = new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.once("error", () => resolve());
    });
    let spawnError: Error | undefined;
    proc.once("error", (e) => (spawnError = e));
    if (proc.pid) livePids.add(proc.pid);

    const deadline = Date.now() + readyTimeoutMs;
    let lastError = "";
    for (;;) {
      if (spawnError) throw new Error(`could not start ${bin}: ${spawnError.message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `docker-registry exited (${proc.exitCode ?? proc.signalCode}) before answering on 127.0.0.1:${port}\n--- ${logPath} (tail) ---\n${tail(logPath)}`,
        );
      }
      try {
        const { status } = await getV2(port, tls ? ca.certPem : null, undefined, 1000);
        if (status === 200 || status === 401) return;
        lastError = `GET /v2/ answered ${status}`;
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (Date.now() > deadline) {
        await killChild();
        throw new Error(
          `docker-registry did not answer GET ${scheme}://127.0.0.1:${port}/v2/ within ${readyTimeoutMs} ms (${lastError})\n--- ${logPath} (tail) ---\n${tail(logPath)}`,
        );
      }
      await sleep(50);
    }
  }

  // --- setup --------------------------------------------------------------------------------
  let ca: Awaited<ReturnType<typeof createTestCertificateAuthority>>;
  try {
    ca = await createTestCertificateAuthority(join(dir, "tls"));
    let authConfig: Record<string, unknown> | undefined;
    if (authMode === "basic") {
      await writeHtpasswd();
      authConfig = { htpasswd: { realm: "test-realm", path: htpasswdPath } };
    } else if (authMode === "bearer") {
      const signing = await createSigningCertificate(join(dir, "token"));
      tokenServer = await startTokenServer({
        tls: { certPem: ca.certPem, keyPem: ca.keyPem },
        signing,
        service: options.service ?? "test-registry",
        issuer: options.issuer ?? "test-issuer",
        users: Object.fromEntries(users),
      });
      authConfig = {
        token: {
          realm: tokenServer.realm,
          service: tokenServer.service,
          issuer: tokenServer.issuer,
          rootcertbundle: signing.certPath,
        },
      };
    } else if (authMode !== "none") {
      throw new Error(`unknown auth mode ${JSON.stringify(authMode)}`);
    }

    // A free port can be taken between probing and binding: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await findFreePort();
      const config = {
        version: "0.1",
        log: { level: "info", formatter: "text", accesslog: { disabled: false } },
        storage: { filesystem: { rootdirectory: dataDir }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
        http: {
          addr: `127.0.0.1:${port}`,
          secret: "modbox-test-registry-http-secret",
          ...(tls ? { tls: { certificate: ca.certPath, key: ca.keyPath } } : {}),
          headers: { "X-Content-Type-Options": ["nosniff"] },
        },
        ...(authConfig ? { auth: authConfig } : {}),
      };
      // JSON is YAML: no quoting pitfalls with temp paths.
      writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
      try {
        await launch();
        break;
      } catch (error) {
        if (attempt < 3 && /address already in use/i.test(tail(logPath, 5))) continue;
        throw error;
      }
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  const restart = async () => {
    if (stopped) throw new Error("registry already stopped");
    await killChild();
    await launch();
  };

  const basicAuthorization = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  /** After a htpasswd rewrite: wait (briefly) until the registry answers `expect` for these credentials. */
  async function htpasswdTookEffect(user: string, password: string, expect: 200 | 401): Promise<boolean> {
    const deadline = Date.now() + 1500;
    for (;;) {
      const { status } = await getV2(port, tls ? ca.certPem : null, basicAuthorization(user, password));
      if (status === expect) return true;
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
  }

  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    tls,
    auth: authMode,
    caCertPem: ca.certPem,
    caCertPath: ca.certPath,
    certDir: ca.certDir,
    ...(tokenServer ? { tokenServer, realm: tokenServer.realm } : {}),
    logPath,
    dir,
    get pid() {
      return child?.pid;
    },
    async setPassword(user, password) {
      if (authMode === "none") throw new Error("setPassword: this test registry has no auth (auth: none)");
      const previous = users.get(user);
      users.set(user, password);
      if (authMode === "bearer") {
        tokenServer!.setPassword(user, password);
        return;
      }
      await writeHtpasswd();
      const ok =
        (await htpasswdTookEffect(user, password, 200)) &&
        (previous === undefined || previous === password || (await htpasswdTookEffect(user, previous, 401)));
      if (!ok) await restart(); // fallback: a registry that does not reload its htpasswd file
    },
    async removeUser(user) {
      if (authMode === "none") throw new Error("removeUser: this test registry has no auth (auth: none)");
      const previous = users.get(user);
      users.delete(user);
      if (authMode === "bearer") {
        tokenServer!.removeUser(user);
        return;
      }
      await writeHtpasswd();
      if (previous !== undefined && !(await htpasswdTookEffect(user, previous, 401))) await restart();
    },
    restart,
    async stop() {
      if (stopped) return;
      stopped = true;
      await cleanup();
    },
  };
}

/** For assertions: is this pid still a live process? */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
