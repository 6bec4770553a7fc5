/** postRegistryForm through an injected `send`: the request it makes, and that it is never redirected. */
import { describe, expect, it } from "vitest";
import { postRegistryForm } from "./form-post.js";
import type { OutboundRequest, Send } from "./http.js";

describe("postRegistryForm", () => {
  it("POSTs the form as UTF-8 x-www-form-urlencoded, asking for JSON, through the session's send", async () => {
    const requests: OutboundRequest[] = [];
    const send: Send = async (request) => {
      requests.push(request);
      return { url: String(request.url), status: 302, headers: { location: ["/elsewhere"] }, body: Buffer.alloc(0) };
    };
    const form = new URLSearchParams({ grant_type: "access_token", service: "reg.test", tenant: "é" });
    const response = await postRegistryForm({ host: "reg.test" }, "/oauth2/exchange", form, { allowPrivate: false, send, timeoutMs: 1234 });
    expect(response.status).toBe(302);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect({ ...request, url: String(request?.url), body: undefined }).toEqual({
      url: "https://reg.test/oauth2/exchange",
      method: "POST",
      headers: { accept: "application/json" },
      body: undefined,
      caCertPem: undefined,
      timeoutMs: 1234,
      maxResponseBytes: 1024 * 1024,
      allowPrivate: false,
      insecureRegistries: expect.anything(),
      lookup: undefined,
    });
    expect(request?.body?.contentType).toBe("application/x-www-form-urlencoded");
    expect(request?.body?.data.toString("utf8")).toBe("grant_type=access_token&service=reg.test&tenant=%C3%A9");
  });
});
