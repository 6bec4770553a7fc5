/**
 * The API reference page at /docs: Redoc rendering /openapi.json, with everything it needs served
 * by this server. Nothing comes from another host (no CDN script, font or stylesheet), so the page
 * works offline and behind firewalls, and its Content-Security-Policy makes that a rule the
 * browser enforces, not a hope.
 *
 * The bundle is Redoc's standalone ES module, taken from @redocly/cli (already pinned for
 * `redocly lint` and `build-docs`, which inlines this very file with `--inlineBundle`). It is
 * byte for byte npm's `redoc@3.0.1` `bundles/redoc.standalone.js`, without installing `redoc`,
 * whose peer dependencies (React, styled-components, …) pnpm would add to the lockfile for a
 * file that runs only in browsers.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** Not a documented export of the CLI: if a release moves it, the server refuses to start. */
const REDOC_BUNDLE = "@redocly/cli/lib/chunks/redoc.standalone.js";

export interface RedocBundle {
  readonly bytes: Buffer;
  /** From the bundle's licence header, e.g. `3.0.1`. */
  readonly version: string;
}

export function readRedocBundle(): RedocBundle {
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(REDOC_BUNDLE);
  } catch {
    throw new Error(`The API reference page (/docs) needs ${REDOC_BUNDLE}, which is not installed: run pnpm install.`);
  }
  const bytes = readFileSync(path);
  const version = /^\s*\*\s*Version:\s*(\S+)\s*$/m.exec(bytes.subarray(0, 1024).toString("utf8"))?.[1];
  // The page loads it as a module and relies on its self-start from <redoc spec-url>; a bundle
  // of another shape would leave the page blank, which no status code would tell.
  const exportsInit = /export\s*\{[^}]*\binit\b[^}]*\}\s*;?\s*$/.test(bytes.subarray(-256).toString("utf8"));
  if (!version || !exportsInit) {
    throw new Error(`${path} is not the Redoc standalone ES module the API reference page (/docs) expects.`);
  }
  return { bytes, version };
}

/**
 * What the page may load: itself, its script, the contract. Scripts: this origin only, no inline
 * script and no eval (Redoc's search tries `Function()` for a worker and falls back to searching
 * on the page). Styles: inline too, because Redoc's styled-components write `<style>` elements
 * and `style` attributes at run time, which no nonce covers. Images and fonts: also `data:` (its
 * icon font is inlined). Everything else from another host is refused, including Redoc's
 * "API docs by Redocly" logo, which it loads from a CDN and hides when it fails.
 */
export const API_REFERENCE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * The page: Redoc starts by itself on the `<redoc>` element (its attributes are its options), so
 * there is no inline script. `disable-telemetry`: Redoc 3 otherwise reports page use to
 * Redocly's collector (the CSP would refuse it anyway; this way it does not try). The empty icon
 * keeps the browser from asking for /favicon.ico, a 401 here.
 */
export function apiReferencePage(options: { title: string; version: string; specUrl: string; yamlUrl: string; scriptUrl: string }): string {
  const title = escapeHtml(`${options.title} ${options.version}`);
  const [specUrl, yamlUrl] = [escapeHtml(options.specUrl), escapeHtml(options.yamlUrl)];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="${specUrl}" disable-telemetry="true"></redoc>
<noscript>This page needs JavaScript. The contract itself: <a href="${yamlUrl}">${yamlUrl}</a>, <a href="${specUrl}">${specUrl}</a>.</noscript>
<script type="module" src="${escapeHtml(options.scriptUrl)}"></script>
</body>
</html>
`;
}
