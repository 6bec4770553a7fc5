/**
 * Validation answers that teach, over HTTP against the real app (response validation on, so each
 * answer also matches the contract's Problem, `errors` at most 20): every problem at once, in
 * words (never a regex, never the value), unknown names with the name probably meant, and a
 * `detail` that tells the first problem. The rules do not touch the database: one backend is enough.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { expectProblem, send, type RawRequest, type RawResponse } from "@modbox/testkit/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SECRET = `teach-secret-${randomBytes(8).toString("hex")}`;
const WS = `ws-teach-${randomBytes(4).toString("hex")}`;

const registry = (overrides: Record<string, unknown> = {}) => ({
  name: `registry ${randomBytes(4).toString("hex")}`,
  server: "ghcr.io",
  username: "octocat",
  password: SECRET,
  ...overrides,
});

describe("validation answers that teach", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp("pglite");
  });
  afterAll(() => app?.close());

  const call = (req: RawRequest) => send(app.url, { workspace: WS, token: app.token, ...req });

  /** The 422's `detail` and `errors`, after the checks every answer here must pass. */
  function refusal(res: RawResponse) {
    const problem = expectProblem(res, 422, "validation_failed");
    expect(res.text, "the answer echoes the password sent").not.toContain(SECRET);
    // Words, never ajv's: no regex, no "must NOT have", no "must match".
    expect(res.text).not.toMatch(/must NOT|must match|\\\\S|\^\[|pattern/);
    return problem as { detail: string; errors: Array<{ path: string; message: string }> };
  }

  it("reports every problem of a request at once, the first one in detail", async () => {
    const res = await call({
      method: "POST",
      path: "/sandbox-images",
      json: { name: "App", image: "ghcr.io/acme/app", tag: "v 1", memory_mb: 64, registry_id: "not-a-uuid", ttl_seconds: "60", enabled: "yes" },
    });
    const { detail, errors } = refusal(res);
    expect(errors).toEqual([
      { path: "/body/tag", message: "must not contain spaces or other whitespace" },
      { path: "/body/registry_id", message: "must be a UUID such as 0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70" },
      { path: "/body/enabled", message: "must be true or false" },
      { path: "/body/memory_mb", message: "must be at least 256" },
      { path: "/body/ttl_seconds", message: "must be an integer or null" },
    ]);
    expect(detail).toBe("tag must not contain spaces or other whitespace (and 4 more problems).");
  });

  it("names an unknown property and the one it probably meant, before the missing one", async () => {
    const { username: _left, ...rest } = registry();
    const res = await call({ method: "POST", path: "/registries", json: { ...rest, usrname: "octocat" } });
    const { detail, errors } = refusal(res);
    expect(errors).toEqual([
      { path: "/body/usrname", message: 'is not a known property; did you mean "username"?' },
      { path: "/body/username", message: "is required" },
    ]);
    expect(detail).toBe('usrname is not a known property; did you mean "username"? (and 1 more problem)');
  });

  it("suggests only a close name: camelCase of a known one yes, a stranger no", async () => {
    const res = await call({ method: "POST", path: "/sandbox-images", json: { name: "App", image: "ubuntu", isDefault: true, id: randomUUID() } });
    expect(refusal(res).errors).toEqual([
      { path: "/body/isDefault", message: 'is not a known property; did you mean "is_default"?' },
      { path: "/body/id", message: "is not a known property" },
    ]);
  });

  it('says " ghcr.io" breaks a rule in words, not as a regex', async () => {
    const res = await call({ method: "POST", path: "/registries", json: registry({ server: " ghcr.io" }) });
    const { detail, errors } = refusal(res);
    const words = "must be host[:port], optionally followed by a lowercase repository path (/org/team) and preceded by https:// or http://, with no spaces";
    expect(errors).toEqual([{ path: "/body/server", message: words }]);
    expect(detail).toBe(`server ${words}.`);
  });

  it("lists at most 20 problems and says how many more there are", async () => {
    const extra = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`extra_${i}`, SECRET]));
    const res = await call({ method: "POST", path: "/registries", json: extra });
    const { detail, errors } = refusal(res);
    expect(errors).toHaveLength(20);
    // Unknown names first (30 of them), then the 4 missing required fields, which the bound cuts.
    expect(errors.every((e) => e.message === "is not a known property")).toBe(true);
    expect(detail).toBe("extra_0 is not a known property (and 33 more problems).");
  });

  it("counts thousands of problems in a large body without listing more than 20", async () => {
    const extra: Record<string, number> = {};
    for (let i = 0; JSON.stringify(extra).length < 48 * 1024; i++) extra[`k${i}`] = i;
    const unknown = Object.keys(extra).length;
    const { detail, errors } = refusal(await call({ method: "POST", path: "/registries", json: { ...registry(), ...extra } }));
    expect(errors).toHaveLength(20);
    expect(detail).toBe(`k0 is not a known property (and ${unknown - 1} more problems).`);
  });

  it("reports query parameter problems together, in words", async () => {
    const res = await call({ method: "GET", path: "/registries?limit=500&enabled=maybe" });
    const { detail, errors } = refusal(res);
    expect(errors).toEqual([
      { path: "/query/limit", message: "must be at most 200" },
      { path: "/query/enabled", message: "must be true or false" },
    ]);
    expect(detail).toBe("query parameter limit must be at most 200 (and 1 more problem).");
  });

  it("answers a non-finite limit in words too", async () => {
    const { detail, errors } = refusal(await call({ method: "GET", path: "/sandbox-images?limit=Infinity" }));
    expect(errors).toEqual([{ path: "/query/limit", message: "must be a finite integer" }]);
    expect(detail).toBe("query parameter limit must be a finite integer.");
  });

  it("names an unknown query parameter and the one it probably meant", async () => {
    const { detail, errors } = refusal(await call({ method: "GET", path: "/registries?Limit=5" }));
    expect(errors).toEqual([{ path: "/query/Limit", message: 'is not a known parameter; did you mean "limit"?' }]);
    expect(detail).toBe('query parameter Limit is not a known parameter; did you mean "limit"?');
  });

  it("reports a bad path id and a bad body together", async () => {
    const { detail, errors } = refusal(await call({ method: "PUT", path: "/registries/not-a-uuid", json: {} }));
    expect(errors).toEqual([
      { path: "/params/registry_id", message: "must be a UUID such as 0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70" },
      { path: "/body", message: "must have at least one property" },
    ]);
    expect(detail).toBe("path parameter registry_id must be a UUID such as 0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70 (and 1 more problem).");
  });

  // One request per kind of rule the contract has: the validator's English for each becomes words.
  const rules: Array<[string, RawRequest, { path: string; message: string }]> = [
    ["required", { method: "POST", path: "/sandbox-images", json: { image: "ubuntu" } }, { path: "/body/name", message: "is required" }],
    ["type", { method: "POST", path: "/registries", json: registry({ name: 5 }) }, { path: "/body/name", message: "must be a string" }],
    ["type of the body", { method: "POST", path: "/registries", json: [registry()] }, { path: "/body", message: "must be an object" }],
    ["minLength", { method: "POST", path: "/registries", json: registry({ password: "" }) }, { path: "/body/password", message: "must not be empty" }],
    ["maxLength", { method: "POST", path: "/registries", json: registry({ name: "n".repeat(256) }) }, { path: "/body/name", message: "must be at most 255 characters long" }],
    ["minimum", { method: "GET", path: "/registries?limit=0" }, { path: "/query/limit", message: "must be at least 1" }],
    ["maximum", { method: "POST", path: "/sandbox-images", json: { name: "App", image: "ubuntu", readiness_port: 65536 } }, { path: "/body/readiness_port", message: "must be at most 65535" }],
    ["an integer", { method: "POST", path: "/sandbox-images", json: { name: "App", image: "ubuntu", memory_mb: 1024.5 } }, { path: "/body/memory_mb", message: "must be an integer" }],
    ["format email", { method: "POST", path: "/registries", json: registry({ email: "not-an-email" }) }, { path: "/body/email", message: "must be an email address" }],
    ["format uuid in a query", { method: "GET", path: "/sandbox-images?registry_id=123" }, { path: "/query/registry_id", message: "must be a UUID such as 0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70" }],
    ["the blank-name pattern", { method: "POST", path: "/registries", json: registry({ name: "   " }) }, { path: "/body/name", message: "must not be blank (whitespace only)" }],
    ["the no-whitespace pattern", { method: "POST", path: "/sandbox-images", json: { name: "App", image: "ubuntu latest" } }, { path: "/body/image", message: "must not contain spaces or other whitespace" }],
    [
      "the workspace id pattern",
      { method: "GET", path: "/registries", workspace: "my workspace" },
      { path: "/headers/x-workspace-id", message: 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"' },
    ],
    [
      "the Idempotency-Key pattern",
      { method: "POST", path: "/registries", json: registry(), headers: { "idempotency-key": "two words" } },
      { path: "/headers/idempotency-key", message: "must be printable ASCII characters only, without spaces" },
    ],
    ["a required header", { method: "GET", path: "/registries", workspace: undefined }, { path: "/headers/x-workspace-id", message: "is required" }],
    ["an empty query parameter", { method: "GET", path: "/registries?server=" }, { path: "/query/server", message: "must not be empty" }],
  ];
  it.each(rules)("%s, in words", async (_label, req, expected) => {
    const { detail, errors } = refusal(await call(req));
    expect(errors).toEqual([expected]);
    expect(detail).toContain(expected.message);
  });

  describe("never the value", () => {
    const leaks: Array<[string, RawRequest]> = [
      ["a password of the wrong type", { method: "POST", path: "/registries", json: registry({ password: { value: SECRET } }) }],
      ["a password too long", { method: "POST", path: "/registries", json: registry({ password: `${SECRET}${"p".repeat(8192)}` }) }],
      ["a password under a mistyped name", { method: "POST", path: "/registries", json: { ...registry({ password: undefined }), passwrd: SECRET } }],
      ["a password pasted into server, with a space", { method: "POST", path: "/registries", json: registry({ server: `${SECRET} x`, username: "" }) }],
      ["a password on an image", { method: "PUT", path: `/sandbox-images/${randomUUID()}`, json: { password: SECRET, tag: `${SECRET} x` } }],
      ["a password in the query", { method: "GET", path: `/registries?limit=1000&cursor=&password=${SECRET}` }],
    ];
    it.each(leaks)("%s: 422 without it", async (_label, req) => {
      const { errors } = refusal(await call(req));
      expect(errors.length).toBeGreaterThan(0);
    });

    it("a mistyped password field is named with its suggestion, its value never", async () => {
      const { errors } = refusal(await call({ method: "POST", path: "/registries", json: { ...registry({ password: undefined }), passwrd: SECRET } }));
      expect(errors).toEqual([
        { path: "/body/passwrd", message: 'is not a known property; did you mean "password"?' },
        { path: "/body/password", message: "is required" },
      ]);
    });
  });
});
