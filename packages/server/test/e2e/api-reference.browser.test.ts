/**
 * The API reference page in a real browser with no network: Debian's chromium, headless, every
 * host but 127.0.0.1 unresolvable, against the real app over HTTP. Redoc 3 shows one tag per
 * page (`#/<tag>`), so the test opens the overview, follows the sidebar's link to each of the
 * contract's tags, as a reader would, and finds every operation's summary rendered, read from
 * openapi.yaml. It also reads the browser's console: Redoc started, and the only thing the page's
 * Content-Security-Policy had to refuse is the logo Redoc fetches from its CDN (hidden when it
 * fails); its telemetry, which the page turns off, would show up here as a refused connection.
 *
 * Needs chromium (`apt-get install chromium`): without it the suite warns and skips, except in
 * CI (CI=true), where it fails. CHROMIUM_PATH names another binary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { chromiumAvailable, dumpDomOffline, visibleText, type ConsoleMessage } from "@modbox/testkit/chromium";
import { contractOperations, contractTags } from "@modbox/testkit/contract";

const skip = !process.env.CI && !chromiumAvailable();
if (skip) {
  console.warn("\n!! api-reference browser test SKIPPED: chromium is not installed (Debian: apt-get install chromium)\n");
}

const OPERATIONS = contractOperations();
const TAGS = contractTags();
/** Redoc's states short of a rendered page. */
const NOT_RENDERED = ["Loading...", "Failed to load API description"];

/** The sidebar's links to pages of the app (`#/…`), by the text they show. */
function sidebarLinks(dom: string): Map<string, string> {
  const links = new Map<string, string>();
  for (const [, href, inner] of dom.matchAll(/<a\b[^>]*\bhref="(#\/[^"]*)"[^>]*>([\s\S]*?)<\/a>/g)) {
    links.set(visibleText(inner!), href!);
  }
  return links;
}

const cspViolations = (messages: ConsoleMessage[]) => messages.filter((m) => m.text.includes("Content Security Policy"));

describe.skipIf(skip)("the API reference page in headless chromium, offline", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp("pglite");
  });
  afterAll(() => app?.close());

  it("renders the contract: every tag's page lists its operations' summaries, nothing stays loading, nothing comes from another host", async () => {
    const overview = await dumpDomOffline(`${app.url}/docs`);
    const overviewText = visibleText(overview.dom);
    for (const state of NOT_RENDERED) expect(overviewText).not.toContain(state);
    expect(overviewText).toContain("Modbox Registries API");
    expect(overview.console.map((m) => m.text).join("\n"), "Redoc started (and the console is read)").toMatch(/Redoc\s*%c\s*\d+\.\d+/);

    const links = sidebarLinks(overview.dom);
    const seen = new Set<string>();
    const violations = cspViolations(overview.console);
    for (const tag of TAGS) {
      const href = links.get(tag);
      expect(href, `the sidebar links the tag ${tag}: ${[...links.keys()].join(", ")}`).toBeDefined();
      const page = await dumpDomOffline(`${app.url}/docs${href}`);
      const text = visibleText(page.dom);
      for (const state of NOT_RENDERED) expect(text, `#${tag}`).not.toContain(state);
      for (const op of OPERATIONS.filter((o) => o.tags.includes(tag))) {
        expect(text, `${tag}: ${op.method} ${op.path}`).toContain(op.summary);
        seen.add(op.operationId);
      }
      violations.push(...cspViolations(page.console));
    }
    // Every operation sits under a tag, so every summary was looked for.
    expect(OPERATIONS.filter((op) => !seen.has(op.operationId)).map((op) => `${op.method} ${op.path}`)).toEqual([]);
    // Only the logo: no script, stylesheet, font or connection (telemetry) to another host.
    for (const violation of violations) {
      expect(violation.text, violation.source).toMatch(/^Loading the image 'https:\/\/cdn\.redoc\.ly\/[^']*' violates /);
    }
  }, 300_000);
});
