import { describe, expect, it } from "vitest";
import { API_REFERENCE_CSP, apiReferencePage, readRedocBundle } from "./api-reference.js";

describe("the API reference page", () => {
  it("finds Redoc's standalone ES module in @redocly/cli, with its version", () => {
    const bundle = readRedocBundle();
    expect(bundle.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(bundle.bytes.length).toBeGreaterThan(500_000);
  });

  it("is one module script and a <redoc> element, the contract's words escaped", () => {
    const html = apiReferencePage({ title: `<Ops & "Co">`, version: "1.0", specUrl: "/openapi.json", yamlUrl: "/openapi.yaml", scriptUrl: "/docs/assets/redoc.js" });
    expect(html).toContain("<title>&lt;Ops &amp; &quot;Co&quot;&gt; 1.0</title>");
    expect(html).toContain('<redoc spec-url="/openapi.json" disable-telemetry="true"></redoc>');
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/docs/assets/redoc.js">']);
  });

  it("lets scripts come from this origin only, and nothing at all from another host", () => {
    expect(API_REFERENCE_CSP).toContain("script-src 'self';");
    expect(API_REFERENCE_CSP).not.toMatch(/https?:|\*|unsafe-eval/);
  });
});
