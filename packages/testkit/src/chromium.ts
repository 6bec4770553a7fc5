/**
 * A real browser for pages the server serves: Debian's `chromium`, headless, one page per
 * process, with every host but 127.0.0.1 unresolvable, so whatever the page needs from another
 * host fails as it would offline. No puppeteer: `--dump-dom` prints the DOM once the page's
 * scripts have run (the virtual time budget lets them finish without waiting for it in real
 * time), and `--enable-logging=stderr` writes the page's console, Content-Security-Policy
 * violations included, to stderr.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The browser to run: `CHROMIUM_PATH`, or Debian's `chromium` on the PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "chromium";

/** Whether the browser is installed (Debian: `apt-get install chromium`). */
export function chromiumAvailable(): boolean {
  const probe = spawnSync(CHROMIUM, ["--version"], { stdio: "ignore", timeout: 30_000 });
  return probe.status === 0;
}

export interface ConsoleMessage {
  text: string;
  /** The URL (and line) the message came from, as chromium reports it. */
  source: string;
}

export interface DumpedPage {
  /** The serialised DOM after the page's scripts ran. */
  dom: string;
  /** What the page wrote to its console, and what the browser reported there (CSP violations). */
  console: ConsoleMessage[];
}

export interface DumpDomOptions {
  /** Virtual time the page gets to finish loading and rendering (default 15 s). */
  virtualTimeBudgetMs?: number;
  /** Real time before the browser is killed (default 90 s: two cores shared, a cold start). */
  timeoutMs?: number;
}

/** chromium's console lines: `[pid:tid:time:INFO:CONSOLE:<line>] "<text>", source: <url> (<line>)`; a text may span lines. */
const CONSOLE_LINE = /:CONSOLE(?::\d+|\(\d+\))\] "([\s\S]*?)", source: ([^\n]*?) \(\d+\)\n/g;

/** Loads `url` in a fresh headless chromium with no network but 127.0.0.1; the DOM and the console. */
export async function dumpDomOffline(url: string, options: DumpDomOptions = {}): Promise<DumpedPage> {
  const profile = mkdtempSync(join(tmpdir(), "modbox-chromium-"));
  const args = [
    "--headless",
    // Root in a container has no user namespace to sandbox with.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    `--user-data-dir=${profile}`,
    // Every name but the server's address fails to resolve: the page is offline.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    `--virtual-time-budget=${options.virtualTimeBudgetMs ?? 15_000}`,
    "--enable-logging=stderr",
    "--v=0",
    "--dump-dom",
    url,
  ];
  // Its own process group, so a hung browser is stopped with everything it started.
  const child = spawn(CHROMIUM, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timeoutMs = options.timeoutMs ?? 90_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  }, timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (exitCode) => resolve(exitCode));
    });
    if (timedOut) throw new Error(`chromium did not finish ${url} within ${timeoutMs} ms:\n${stderr.slice(-2000)}`);
    if (code !== 0) throw new Error(`chromium exited ${code} on ${url}:\n${stderr.slice(-2000)}`);
  } finally {
    clearTimeout(timer);
    rmSync(profile, { recursive: true, force: true });
  }
  const messages = [...stderr.matchAll(CONSOLE_LINE)].map((m) => ({ text: m[1]!, source: m[2]! }));
  return { dom: stdout, console: messages };
}

/**
 * The text a reader sees: the DOM without its tags, styles, scripts and `<noscript>` (scripts
 * ran), entities decoded, spaces collapsed.
 */
export function visibleText(dom: string): string {
  return dom
    .replace(/<(style|script|noscript)\b[^>]*>[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", nbsp: " " })[name]!)
    .replace(/\s+/g, " ")
    .trim();
}
