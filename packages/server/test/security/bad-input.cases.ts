/**
 * The hand-written half of the hostile-input suite (bad-input.test.ts) as data: one case per
 * attack (malformed JSON, wrong types, over-long and empty strings, look-alike names, bad ids,
 * bad queries and cursors, bad headers, wrong media types, oversized bodies, unknown routes and
 * methods), each with the status the contract gives it. Requests are built when a case runs, so they may name
 * the fixtures the suite creates in its `beforeAll`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Registry, SandboxImage } from "@modbox/sdk";
import type { RawRequest } from "@modbox/testkit/http";

export const BODY_LIMIT = 64 * 1024;
/** The password every hostile body carries: no answer may contain it. */
export const SECRET = `bad-input-secret-${randomBytes(8).toString("hex")}`;

export const validRegistry = (name = `registry-${randomBytes(4).toString("hex")}`) => ({
  name,
  server: "ghcr.io",
  username: "robot",
  password: SECRET,
  email: "robot@example.com",
  enabled: true,
});

export const validImage = (registryId: string | null) => ({
  name: "Hostile image",
  image: "ghcr.io/acme/app",
  tag: "v1",
  registry_id: registryId,
  description: "An image",
  enabled: true,
  is_default: false,
  memory_mb: 1024,
  ttl_seconds: 3600,
  readiness_port: 8080,
});

const base64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");
export const json = { "content-type": "application/json" };

export interface Case {
  label: string;
  /** Built at run time (fixtures exist by then). Workspace and token default to W and a valid token. */
  request: () => RawRequest;
  /** Exact, or "4xx" where the contract allows more than one answer. */
  status: number | "4xx";
  code?: string;
  /** An `errors[].path` the problem must name. */
  errorPath?: string;
  /** Values that must not come back (besides SECRET, which never may). */
  mustNotEcho?: () => string[];
}

/** What the suite stores before the cases run; filled in by its `beforeAll`. */
export interface HostileFixtures {
  keep: Registry;
  keepRow: Record<string, unknown>;
  keepImage: SandboxImage;
  keepImageRow: Record<string, unknown>;
  other: Registry;
  /** A registry whose name is stored composed (NFC): its decomposed spelling is the same name. */
  accented: Registry;
  /** An image the lone-surrogate cases may change. */
  spareImage: SandboxImage;
  /** next_cursor of GET /registries?enabled=true&limit=1 */
  enabledCursor: string;
  /** next_cursor of GET /registries?server=ghcr.io&limit=1 */
  serverCursor: string;
  /** next_cursor of GET /sandbox-images?registry_id=keep&limit=1 */
  imageCursor: string;
}

/**
 * Every case of the table. `fx` and `app` are read only when a case's request is built, so both
 * may still be empty when this runs (at collection time).
 */
export function hostileInputCases(fx: HostileFixtures, app: { readonly token: string }): Case[] {
  const cases: Case[] = [];
  const add = (c: Case) => cases.push(c);

  /** The four body-taking operations; PUTs aim at the fixtures that must stay unchanged. */
  const bodyRoutes: Array<{ name: string; method: string; path: () => string; kind: "registry" | "image" }> = [
    { name: "POST /registries", method: "POST", path: () => "/registries", kind: "registry" },
    { name: "PUT /registries/{id}", method: "PUT", path: () => `/registries/${fx.keep.id}`, kind: "registry" },
    { name: "POST /sandbox-images", method: "POST", path: () => "/sandbox-images", kind: "image" },
    { name: "PUT /sandbox-images/{id}", method: "PUT", path: () => `/sandbox-images/${fx.keepImage.id}`, kind: "image" },
  ];

  // Malformed JSON → 400 malformed_request, on every body-taking operation.
  const malformed: Array<[string, string]> = [
    ["truncated", `{"name":"x","password":"${SECRET}"`],
    ["trailing comma", `{"name":"x","password":"${SECRET}",}`],
    ['{"a":}', '{"a":}'],
    ["a JSON string literal", JSON.stringify(SECRET)],
    ["a JSON number literal", "42"],
    ["a JSON null literal", "null"],
    ["a JSON true literal", "true"],
    ["single quotes", `{'name':'x','password':'${SECRET}'}`],
    ["a comment", `{/* c */"name":"x","password":"${SECRET}"}`],
    ["NaN", `{"memory_mb":NaN,"password":"${SECRET}"}`],
    ["a raw control character in a string", `{"name":"a\u0001b","password":"${SECRET}"}`],
    ["an unterminated string", `{"password":"${SECRET}}`],
    ["two documents", `{"password":"${SECRET}"}{"name":"x"}`],
    ["BOM-prefixed and truncated", `\ufeff{"password":"${SECRET}"`],
    ["two BOMs before a valid object", `\ufeff\ufeff${JSON.stringify({ name: "x", password: SECRET })}`],
    ["whitespace only", "   \n\t "],
    ["an empty body with content-type application/json", ""],
  ];
  for (const route of bodyRoutes) {
    for (const [shape, body] of malformed) {
      add({
        label: `${route.name}: malformed JSON, ${shape} → 400`,
        request: () => ({ method: route.method, path: route.path(), body, headers: json }),
        status: 400,
        code: "malformed_request",
      });
    }
    add({
      label: `${route.name}: invalid UTF-8 bytes → 400 or 422`,
      // body-parser decodes invalid bytes to U+FFFD; refusing them (400) or the decoded body (422) are both fine.
      request: () => ({
        method: route.method,
        path: route.path(),
        body: new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]),
        headers: json,
      }),
      status: "4xx",
    });
    add({
      label: `${route.name}: a JSON array → 422`,
      request: () => ({ method: route.method, path: route.path(), body: "[]", headers: json }),
      status: 422,
      code: "validation_failed",
      errorPath: "/body",
    });
    add({
      label: `${route.name}: 5000 nested arrays → 422`,
      request: () => ({ method: route.method, path: route.path(), body: "[".repeat(5000) + "]".repeat(5000), headers: json }),
      status: 422,
      code: "validation_failed",
    });
    add({
      label: `${route.name}: a number too large for a double (1e400) → 422`,
      request: () => ({
        method: route.method,
        path: route.path(),
        body: route.kind === "registry" ? `{"password":"${SECRET}","enabled":1e400}` : '{"memory_mb":1e400}',
        headers: json,
      }),
      status: 422,
      code: "validation_failed",
    });
  }

  // Field rules: wrong types, out of range, over-long, empty, whitespace, unknown fields.
  // Each is sent on the create (a valid body with one field broken) and on the update.
  interface FieldCase {
    label: string;
    field: string;
    value: unknown;
    /** Where the error is reported; default `/body/<field>`. */
    errorPath?: string;
  }
  const long = (char: string, n: number) => char.repeat(n);
  // Names the schema lets through and the naming rules refuse (services/names.ts): text that
  // looks like another name or hides part of itself. On registries and images alike.
  const nameFields: FieldCase[] = [
    { label: "name with a zero-width space (Docker\\u200bHub)", field: "name", value: "Docker\u200bHub" },
    { label: "name with a right-to-left override (evil\\u202egnp.exe)", field: "name", value: "evil\u202egnp.exe" },
    { label: "name with a zero-width joiner outside an emoji", field: "name", value: "Docker\u200dHub" },
    { label: "name with a bidi isolate", field: "name", value: "prod\u2067 registry\u2069" },
    { label: "name with a byte order mark inside", field: "name", value: "Docker\ufeffHub" },
    { label: "name with a trailing space", field: "name", value: "name " },
    { label: "name with a leading space", field: "name", value: " name" },
    { label: "name with a trailing no-break space", field: "name", value: "registry name\u00a0" },
    { label: "name with a tab inside", field: "name", value: "Docker\tHub" },
    { label: "name with a line separator (U+2028) inside", field: "name", value: "Docker\u2028Hub" },
  ];
  const registryFields: FieldCase[] = [
    { label: "number for name", field: "name", value: 123 },
    { label: "null for name", field: "name", value: null },
    { label: "array for name", field: "name", value: ["x"] },
    { label: "boolean for server", field: "server", value: true },
    { label: "array for username", field: "username", value: [] },
    { label: "number for password", field: "password", value: 12345 },
    { label: "null for password", field: "password", value: null },
    { label: "object for password", field: "password", value: { value: SECRET } },
    { label: "object for email", field: "email", value: {} },
    { label: "number for email", field: "email", value: 42 },
    { label: "string for enabled", field: "enabled", value: "true" },
    { label: "number for enabled", field: "enabled", value: 1 },
    { label: "null for enabled", field: "enabled", value: null },
    { label: "name of 256 characters", field: "name", value: long("N", 256) },
    { label: "server of 513 characters", field: "server", value: long("s", 513) },
    { label: "username of 256 characters", field: "username", value: long("U", 256) },
    // The spec allows 8192 (Modbox documents 512, too short for ECR tokens and Google JSON keys).
    { label: "password of 8193 characters", field: "password", value: `${SECRET}${long("p", 8193 - SECRET.length)}` },
    { label: "email of 262 characters", field: "email", value: `${long("e", 250)}@example.com` },
    { label: "empty name", field: "name", value: "" },
    { label: "empty server", field: "server", value: "" },
    { label: "empty username", field: "username", value: "" },
    { label: "empty password", field: "password", value: "" },
    { label: "empty email", field: "email", value: "" },
    { label: "whitespace-only name", field: "name", value: "   " },
    { label: "tab/newline-only name", field: "name", value: "\t\n\r" },
    ...nameFields,
    { label: "server with a space", field: "server", value: "ghcr .io" },
    { label: "invalid email", field: "email", value: "not-an-email" },
    { label: "unknown field", field: "extra", value: 1 },
    { label: "mass assignment: id", field: "id", value: randomUUID() },
    { label: "mass assignment: password_ciphertext", field: "password_ciphertext", value: "v1:k1:AAAA" },
    { label: "mass assignment: workspace_id", field: "workspace_id", value: "someone-else" },
    { label: "mass assignment: created_at", field: "created_at", value: "2020-01-01T00:00:00.000Z" },
    { label: "mass assignment: version", field: "version", value: 99 },
    { label: "mass assignment: provider", field: "provider", value: "ecr" },
    { label: "mass assignment: verification", field: "verification", value: { status: "verified" } },
    { label: "mass assignment: warnings", field: "warnings", value: [] },
    { label: "mass assignment: last_used_at", field: "last_used_at", value: "2020-01-01T00:00:00.000Z" },
    // Servers the schema lets through and the normalisation refuses (hosts.ts): each a 422 naming the field.
    { label: "server with an uppercase repository path", field: "server", value: "ghcr.io/Your-Org" },
    { label: "server with a trailing slash after its repository path", field: "server", value: "ghcr.io/your-org/" },
    { label: "server with a tag after its repository path", field: "server", value: "ghcr.io/your-org/app:v1" },
    { label: "server with a user name", field: "server", value: "user@ghcr.io" },
    { label: "server with a query", field: "server", value: "ghcr.io?x=1" },
    { label: "server with a fragment", field: "server", value: "ghcr.io#x" },
    { label: "server with an ftp:// scheme", field: "server", value: "ftp://ghcr.io" },
    { label: "server with a backslash", field: "server", value: "ghcr.io\\evil" },
    { label: "server as a decimal IPv4 (2130706433)", field: "server", value: "2130706433" },
    { label: "server as a hex IPv4 (0x7f.0.0.1)", field: "server", value: "0x7f.0.0.1" },
    { label: "server as an octal IPv4 (0177.0.0.1)", field: "server", value: "0177.0.0.1" },
    { label: "server as a short IPv4 (127.1)", field: "server", value: "127.1" },
    { label: "server as an unbracketed IPv6", field: "server", value: "::1" },
    { label: "server as an unclosed IPv6 bracket", field: "server", value: "[::1:5000" },
    { label: "server with port 0", field: "server", value: "ghcr.io:0" },
    { label: "server with port 65536", field: "server", value: "ghcr.io:65536" },
    { label: "server with a trailing dot", field: "server", value: "ghcr.io." },
    { label: "server with an empty label", field: "server", value: "ghcr..io" },
    { label: "server with a non-ASCII host", field: "server", value: "ghçr.io" },
    { label: "server as a bare single label", field: "server", value: "myregistry" },
    { label: "server of 512 characters (schema limit, not a host)", field: "server", value: `${long("s", 508)}.com` },
    { label: "ca_certificate that is not PEM", field: "ca_certificate", value: "not a certificate at all" },
    {
      label: "ca_certificate with a PEM block that does not parse",
      field: "ca_certificate",
      value: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    },
    { label: "number for ca_certificate", field: "ca_certificate", value: 42 },
    { label: "ca_certificate of 16385 characters", field: "ca_certificate", value: long("c", 16385) },
  ];
  const imageFields: FieldCase[] = [
    { label: "number for name", field: "name", value: 1 },
    { label: "null for image", field: "image", value: null },
    { label: "number for image", field: "image", value: 5 },
    { label: "number for tag", field: "tag", value: 5 },
    { label: "null for tag", field: "tag", value: null },
    { label: "number for registry_id", field: "registry_id", value: 7 },
    { label: "bad UUID for registry_id", field: "registry_id", value: "not-a-uuid" },
    { label: "empty registry_id", field: "registry_id", value: "" },
    { label: "UUID plus a character for registry_id", field: "registry_id", value: `${randomUUID()}0` },
    { label: "number for description", field: "description", value: 5 },
    { label: "object for description", field: "description", value: {} },
    { label: "string for enabled", field: "enabled", value: "yes" },
    { label: "number for is_default", field: "is_default", value: 1 },
    { label: "string for is_default", field: "is_default", value: "false" },
    { label: "float memory_mb", field: "memory_mb", value: 1024.5 },
    { label: "string memory_mb", field: "memory_mb", value: "1024" },
    { label: "null memory_mb", field: "memory_mb", value: null },
    { label: "memory_mb 255 (below minimum)", field: "memory_mb", value: 255 },
    { label: "memory_mb 8193 (above maximum)", field: "memory_mb", value: 8193 },
    { label: "memory_mb -1", field: "memory_mb", value: -1 },
    { label: "memory_mb 2^53", field: "memory_mb", value: 2 ** 53 },
    { label: "ttl_seconds 59", field: "ttl_seconds", value: 59 },
    { label: "ttl_seconds 86401", field: "ttl_seconds", value: 86401 },
    { label: "float ttl_seconds", field: "ttl_seconds", value: 60.5 },
    { label: "string ttl_seconds", field: "ttl_seconds", value: "60" },
    { label: "readiness_port 0", field: "readiness_port", value: 0 },
    { label: "readiness_port 65536", field: "readiness_port", value: 65536 },
    { label: "readiness_port -1", field: "readiness_port", value: -1 },
    { label: "string readiness_port", field: "readiness_port", value: "80" },
    { label: "name of 256 characters", field: "name", value: long("N", 256) },
    { label: "image of 513 characters", field: "image", value: long("i", 513) },
    { label: "tag of 129 characters", field: "tag", value: long("t", 129) },
    { label: "description of 1001 characters", field: "description", value: long("d", 1001) },
    { label: "empty name", field: "name", value: "" },
    { label: "empty image", field: "image", value: "" },
    { label: "empty tag", field: "tag", value: "" },
    { label: "whitespace-only name", field: "name", value: "  \t " },
    ...nameFields,
    { label: "image with a space", field: "image", value: "ubuntu latest" },
    { label: "tag with a space", field: "tag", value: "la test" },
    { label: "unknown field", field: "extra", value: true },
    { label: "a password field", field: "password", value: SECRET },
    { label: "mass assignment: workspace_id", field: "workspace_id", value: "someone-else" },
    { label: "mass assignment: registry_name", field: "registry_name", value: "x" },
    { label: "mass assignment: id", field: "id", value: randomUUID() },
    { label: "mass assignment: reference", field: "reference", value: "ghcr.io/evil/app:latest" },
    // References the schema lets through and the Docker reference grammar refuses (reference.ts).
    { label: "image with uppercase (Org/App)", field: "image", value: "Org/App" },
    { label: "image with a tag (put it in tag)", field: "image", value: "ghcr.io/acme/app:v1" },
    { label: "image with a scheme", field: "image", value: "https://ghcr.io/acme/app" },
    { label: "image with an empty path component", field: "image", value: "ghcr.io/acme//app" },
    { label: "image with a leading slash", field: "image", value: "/acme/app" },
    { label: "image with a trailing slash", field: "image", value: "ghcr.io/acme/" },
    { label: "image that is an image id", field: "image", value: long("a", 64) },
    { label: "image with a short sha256 digest", field: "image", value: "ghcr.io/acme/app@sha256:abcdef" },
    { label: "image with an uppercase sha256 digest", field: "image", value: `ghcr.io/acme/app@sha256:${long("A", 64)}` },
    { label: "image on a hex IPv4 host", field: "image", value: "0x7f.0.0.1/acme/app" },
    { label: "image on a host with port 0", field: "image", value: "localhost:0/acme/app" },
    { label: "image whose name is over 255 characters", field: "image", value: `ghcr.io/${long("a", 250)}` },
    { label: "image with a path component that starts with a separator", field: "image", value: "ghcr.io/acme/-app" },
    { label: "tag starting with a dash", field: "tag", value: "-v1" },
    { label: "tag starting with a dot", field: "tag", value: ".v1" },
    { label: "tag with a slash", field: "tag", value: "v1/evil" },
    { label: "tag with a colon", field: "tag", value: "v1:v2" },
    { label: "tag with an @", field: "tag", value: "v1@sha256" },
  ];
  for (const route of bodyRoutes) {
    const fields = route.kind === "registry" ? registryFields : imageFields;
    for (const f of fields) {
      add({
        label: `${route.name}: ${f.label} → 422`,
        request: () => {
          const base: Record<string, unknown> =
            route.method === "POST"
              ? route.kind === "registry"
                ? validRegistry()
                : validImage(fx.keep.id)
              : route.kind === "registry"
                ? { password: SECRET }
                : { name: "Renamed" };
          return { method: route.method, path: route.path(), json: { ...base, [f.field]: f.value } };
        },
        status: 422,
        code: "validation_failed",
        errorPath: f.errorPath ?? `/body/${f.field}`,
        mustNotEcho: () => (typeof f.value === "string" && f.value.trim().length >= 8 ? [f.value] : []),
      });
    }
  }
  for (const route of bodyRoutes.filter((r) => r.method === "PUT")) {
    add({
      label: `${route.name}: empty object {} → 422`,
      request: () => ({ method: "PUT", path: route.path(), json: {} }),
      status: 422,
      code: "validation_failed",
      errorPath: "/body",
    });
  }
  for (const field of ["name", "server", "username", "password"]) {
    add({
      label: `POST /registries: missing ${field} → 422`,
      request: () => {
        const body: Record<string, unknown> = validRegistry();
        delete body[field];
        return { method: "POST", path: "/registries", json: body };
      },
      status: 422,
      code: "validation_failed",
      errorPath: `/body/${field}`,
    });
  }
  for (const field of ["name", "image"]) {
    add({
      label: `POST /sandbox-images: missing ${field} → 422`,
      request: () => {
        const body: Record<string, unknown> = validImage(null);
        delete body[field];
        return { method: "POST", path: "/sandbox-images", json: body };
      },
      status: 422,
      code: "validation_failed",
      errorPath: `/body/${field}`,
    });
  }

  // Names are unique in their stored, NFC-normalised form: a decomposed spelling of a taken name
  // (e + U+0301 for é) is the same name. POST and PUT send different spellings, so that neither
  // case can pass by colliding with a name the other one stored.
  for (const [routeName, spelling, name] of [
    ["POST /registries", "fully decomposed", () => fx.accented.name.normalize("NFD")],
    ["PUT /registries/{id}", "partly decomposed", () => fx.accented.name.replace("\u00e9", "e\u0301")],
  ] as const) {
    const route = bodyRoutes.find((r) => r.name === routeName)!;
    add({
      label: `${route.name}: a taken name, ${spelling} (e + U+0301 for é) → 409`,
      request: () => ({ method: route.method, path: route.path(), json: { ...(route.method === "POST" ? validRegistry() : {}), name: name() } }),
      status: 409,
      code: "registry_name_taken",
    });
  }

  // NUL characters: valid for the schema's patterns, impossible in a PostgreSQL text column. The
  // contract's answer for an input it cannot store is a 4xx, never a 500.
  for (const [route, field] of [
    ["POST /registries", "name"],
    ["POST /registries", "server"],
    ["POST /registries", "username"],
    ["PUT /registries/{id}", "username"],
    ["POST /sandbox-images", "name"],
    ["POST /sandbox-images", "tag"],
    ["PUT /sandbox-images/{id}", "description"],
  ] as const) {
    const r = bodyRoutes.find((b) => b.name === route)!;
    add({
      label: `${route}: a NUL character in ${field} → 422`,
      request: () => {
        const base =
          r.method === "POST" ? (r.kind === "registry" ? validRegistry() : validImage(null)) : r.kind === "registry" ? { password: SECRET } : {};
        return { method: r.method, path: r.path(), json: { ...base, [field]: "nul\u0000byte" } };
      },
      status: 422,
      code: "validation_failed",
    });
  }
  // A lone surrogate cannot be encrypted as it is (the cipher refuses, rightly: it would not
  // round-trip); silently storing something else as the credential is not an option either.
  for (const route of bodyRoutes.filter((r) => r.kind === "registry")) {
    for (const [what, value] of [
      ["a lone high surrogate", `pw-\ud83d-${SECRET}`],
      ["a lone low surrogate", `pw-\udc00-${SECRET}`],
    ] as const) {
      add({
        label: `${route.name}: password with ${what} → 422`,
        request: () => ({ method: route.method, path: route.path(), json: { ...(route.method === "POST" ? validRegistry() : {}), password: value } }),
        status: 422,
        code: "validation_failed",
        errorPath: "/body/password",
      });
    }
  }
  add({
    label: "GET /registries?server=a%00b (a NUL in a query string) → 422",
    request: () => ({ method: "GET", path: "/registries?server=nul%00byte" }),
    status: 422,
    code: "validation_failed",
  });

  // Ids in paths.
  const badIds = ["not-a-uuid", `urn:uuid:${randomUUID()}`, `{${randomUUID()}}`, "123", `${randomUUID()}0`, randomUUID().slice(0, -1), "00000000-0000-0000-0000-00000000000g", "%00", "..%2F..%2Fhealthz", "'%20OR%201=1--"];
  for (const id of badIds) {
    for (const [method, collection, param] of [
      ["GET", "registries", "registry_id"],
      ["PUT", "registries", "registry_id"],
      ["DELETE", "registries", "registry_id"],
      ["GET", "sandbox-images", "image_id"],
      ["PUT", "sandbox-images", "image_id"],
      ["DELETE", "sandbox-images", "image_id"],
    ] as const) {
      add({
        label: `${method} /${collection}/${id} → 422`,
        request: () => ({ method, path: `/${collection}/${id}`, ...(method === "PUT" && { json: { enabled: false } }) }),
        status: 422,
        code: "validation_failed",
        errorPath: `/params/${param}`,
      });
    }
    for (const [collection, action, param] of [
      ["registries", "verify", "registry_id"],
      ["sandbox-images", "pull-check", "image_id"],
      // Validated before the scope check: the same answer for every token.
      ["sandbox-images", "pull-credentials", "image_id"],
    ] as const) {
      add({
        label: `POST /${collection}/${id}/${action} → 422`,
        request: () => ({ method: "POST", path: `/${collection}/${id}/${action}` }),
        status: 422,
        code: "validation_failed",
        errorPath: `/params/${param}`,
      });
    }
  }

  // Queries.
  for (const list of ["/registries", "/sandbox-images"]) {
    for (const limit of ["0", "201", "-1", "abc", "1.5", "", "9".repeat(30), "Infinity", "-Infinity", "1e400", "NaN"]) {
      add({
        label: `GET ${list}?limit=${limit} → 422`,
        request: () => ({ method: "GET", path: `${list}?limit=${limit}` }),
        status: 422,
        code: "validation_failed",
        errorPath: "/query/limit",
      });
    }
    add({
      label: `GET ${list}?enabled=yes → 422`,
      request: () => ({ method: "GET", path: `${list}?enabled=yes` }),
      status: 422,
      code: "validation_failed",
      errorPath: "/query/enabled",
    });
    for (const [what, query] of [
      ["an unknown parameter", "foo=1"],
      ["a misspelt parameter", "Limit=10"],
      ["a password parameter", `password=${SECRET}`],
    ] as const) {
      add({
        label: `GET ${list}?${query.split("=")[0]} (${what}) → 422`,
        request: () => ({ method: "GET", path: `${list}?${query}` }),
        status: 422,
        code: "validation_failed",
      });
    }
    const cursors: Array<[string, () => string, string]> = [
      ["random base64", () => randomBytes(24).toString("base64"), "invalid_cursor"],
      ["random base64url", () => randomBytes(40).toString("base64url"), "invalid_cursor"],
      ["base64 of garbage JSON", () => base64url('{"garbage":true}'), "invalid_cursor"],
      ["base64 of a JSON array", () => base64url("[1,2,3]"), "invalid_cursor"],
      ["base64 of null", () => base64url("null"), "invalid_cursor"],
      ["base64 of a cursor with a bad id", () => base64url('{"v":1,"before":"not-a-uuid","f":"x"}'), "invalid_cursor"],
      ["base64 of a cursor with a SQL id", () => base64url(`{"v":1,"before":"' OR 1=1 --","f":"x"}`), "invalid_cursor"],
      ["base64 of a cursor of another version", () => base64url(`{"v":2,"before":"${randomUUID()}","f":"x"}`), "invalid_cursor"],
      ["513 characters", () => "A".repeat(513), "validation_failed"],
      ["empty", () => "", "validation_failed"],
    ];
    for (const [what, cursor, code] of cursors) {
      add({
        label: `GET ${list}?cursor=(${what}) → 422 ${code}`,
        request: () => ({ method: "GET", path: `${list}?cursor=${encodeURIComponent(cursor())}` }),
        status: 422,
        code,
        errorPath: code === "validation_failed" ? "/query/cursor" : undefined,
      });
    }
  }
  for (const [what, path] of [
    ["enabled=true reused with enabled=false", () => `/registries?enabled=false&limit=1&cursor=${fx.enabledCursor}`],
    ["enabled=true reused without a filter", () => `/registries?limit=1&cursor=${fx.enabledCursor}`],
    ["server=ghcr.io reused with another server", () => `/registries?server=docker.io&limit=1&cursor=${fx.serverCursor}`],
    ["registry_id=keep reused with another registry_id", () => `/sandbox-images?registry_id=${fx.other.id}&limit=1&cursor=${fx.imageCursor}`],
    ["registry_id=keep reused with enabled=true added", () => `/sandbox-images?registry_id=${fx.keep.id}&enabled=true&limit=1&cursor=${fx.imageCursor}`],
  ] as const) {
    add({ label: `a cursor from ${what} → 422 invalid_cursor`, request: () => ({ method: "GET", path: path() }), status: 422, code: "invalid_cursor" });
  }
  for (const value of ["not-a-uuid", "", "123"]) {
    add({
      label: `GET /sandbox-images?registry_id=${value || "(empty)"} → 422`,
      request: () => ({ method: "GET", path: `/sandbox-images?registry_id=${value}` }),
      status: 422,
      code: "validation_failed",
      errorPath: "/query/registry_id",
    });
  }
  for (const [what, path, method] of [
    ["unknown query on GET /registries/{id}", () => `/registries/${fx.keep.id}?expand=password`, "GET"],
    // (`force` is a documented parameter of this route since registries can be in use.)
    ["unknown query on DELETE /registries/{id} (nothing deleted)", () => `/registries/${fx.keep.id}?cascade=true`, "DELETE"],
    ["unknown query on DELETE /sandbox-images/{id} (nothing deleted)", () => `/sandbox-images/${fx.keepImage.id}?force=true`, "DELETE"],
  ] as const) {
    add({ label: `${what} → 422`, request: () => ({ method, path: path() }), status: 422, code: "validation_failed" });
  }
  for (const [what, path] of [
    ["POST /registries/{id}/verify", () => `/registries/${fx.keep.id}/verify?force=true`],
    ["POST /sandbox-images/{id}/pull-check", () => `/sandbox-images/${fx.keepImage.id}/pull-check?verify=true`],
    ["POST /sandbox-images/{id}/pull-credentials", () => `/sandbox-images/${fx.keepImage.id}/pull-credentials?format=docker`],
  ] as const) {
    add({ label: `unknown query on ${what} → 422`, request: () => ({ method: "POST", path: path() }), status: 422, code: "validation_failed" });
  }
  for (const [what, method, path, body, param] of [
    ["DELETE /registries/{id}?force=yes (nothing deleted)", "DELETE", () => `/registries/${fx.keep.id}?force=yes`, undefined, "force"],
    ["DELETE /registries/{id}?force= (empty, nothing deleted)", "DELETE", () => `/registries/${fx.keep.id}?force=`, undefined, "force"],
    ["POST /registries?verify=yes", "POST", () => "/registries?verify=yes", () => validRegistry(), "verify"],
    ["PUT /registries/{id}?verify=1 (nothing changed)", "PUT", () => `/registries/${fx.keep.id}?verify=1`, () => ({ password: SECRET }), "verify"],
  ] as const) {
    add({
      label: `${what} → 422`,
      request: () => ({ method, path: path(), ...(body && { json: body() }) }),
      status: 422,
      code: "validation_failed",
      errorPath: `/query/${param}`,
    });
  }
  add({
    label: "unknown query on PUT /registries/{id} with a valid body (nothing changed) → 422",
    request: () => ({ method: "PUT", path: `/registries/${fx.keep.id}?dry_run=false`, json: { password: SECRET } }),
    status: 422,
    code: "validation_failed",
  });
  add({
    label: "GET /registries?server=(513 characters) → 422",
    request: () => ({ method: "GET", path: `/registries?server=${"s".repeat(513)}` }),
    status: 422,
    code: "validation_failed",
    errorPath: "/query/server",
  });

  // X-Workspace-Id.
  for (const [method, route, path, body] of [
    ["GET", "/registries", () => "/registries", undefined],
    ["POST", "/registries", () => "/registries", () => validRegistry()],
    ["GET", "/registries/{id}", () => `/registries/${fx.keep.id}`, undefined],
    ["PUT", "/sandbox-images/{id}", () => `/sandbox-images/${fx.keepImage.id}`, () => ({ enabled: false })],
  ] as const) {
    add({
      label: `${method} ${route} without X-Workspace-Id → 422`,
      request: () => ({ method, path: path(), workspace: undefined, ...(body && { json: body() }) }),
      status: 422,
      code: "validation_failed",
      errorPath: "/headers/x-workspace-id",
    });
  }
  for (const [what, value] of [
    ["65 characters", "w".repeat(65)],
    ["a space", "my workspace"],
    ["a slash", "ws/other"],
    ["dot-dot", "../other"],
    ["a leading dash", "-ws"],
    ["a leading dot", ".ws"],
    ["a semicolon", "ws;drop"],
    ["a percent sign", "ws%00"],
    ["a non-ASCII letter", "wsé"],
    ["an empty value", ""],
  ] as const) {
    add({
      label: `X-Workspace-Id with ${what} → 422`,
      request: () => ({ method: "GET", path: "/registries", workspace: value }),
      status: 422,
      code: "validation_failed",
      errorPath: "/headers/x-workspace-id",
    });
  }

  // Authorization: every failure is the same 401, before any validation.
  const validTokenVariants: Array<[string, () => string | undefined]> = [
    ["missing", () => undefined],
    ["Basic credentials", () => `Basic ${Buffer.from(`robot:${SECRET}`).toString("base64")}`],
    ["the scheme alone", () => "Bearer"],
    ["an empty mbx_ token", () => "Bearer mbx_"],
    ["a random string", () => `Bearer ${SECRET}`],
    ["a token with a bad checksum", () => `Bearer mbx_${randomBytes(24).toString("base64url")}00000000`],
    ["the valid token plus a character", () => `Bearer ${app.token}x`],
    ["the valid token minus a character", () => `Bearer ${app.token.slice(0, -1)}`],
    ["the valid token with another prefix", () => `Bearer mbk_${app.token.slice(4)}`],
    ["two bearer tokens", () => `Bearer ${app.token}, Bearer ${app.token}`],
    ["another scheme with the valid token", () => `Token ${app.token}`],
    ["the valid token with no scheme", () => app.token],
    ["bearer token with an inner space", () => `Bearer ${app.token.slice(0, 10)} ${app.token.slice(10)}`],
  ];
  for (const [what, authorization] of validTokenVariants) {
    add({
      label: `Authorization: ${what} → 401`,
      request: () => {
        const value = authorization();
        const headers: Record<string, string> = value === undefined ? {} : { authorization: value };
        return { method: "GET", path: "/registries", token: undefined, headers };
      },
      status: 401,
      code: "unauthorized",
    });
  }
  add({
    label: "no Authorization on an invalid body: 401 first, nothing about the body",
    request: () => ({ method: "POST", path: "/registries", token: undefined, json: { name: 1, password: SECRET } }),
    status: 401,
    code: "unauthorized",
  });

  // Media types.
  for (const route of bodyRoutes) {
    const body = () => JSON.stringify(route.kind === "registry" ? { password: SECRET } : { name: "Renamed" });
    for (const [what, contentType, payload] of [
      ["text/plain", "text/plain", body],
      ["application/xml", "application/xml", () => `<registry><password>${SECRET}</password></registry>`],
      ["a form", "application/x-www-form-urlencoded", () => `password=${SECRET}`],
      ["multipart", "multipart/form-data; boundary=x", () => `--x\r\nContent-Disposition: form-data; name="password"\r\n\r\n${SECRET}\r\n--x--`],
      ["application/problem+json", "application/problem+json", body],
      ["application/json; charset=latin1", "application/json; charset=latin1", body],
    ] as const) {
      add({
        label: `${route.name}: ${what} → 415`,
        request: () => ({ method: route.method, path: route.path(), body: payload(), headers: { "content-type": contentType } }),
        status: 415,
        code: "unsupported_media_type",
      });
    }
    add({
      label: `${route.name}: a body with no content-type → 415`,
      request: () => ({ method: route.method, path: route.path(), body: new TextEncoder().encode(body()) }),
      status: 415,
      code: "unsupported_media_type",
    });
    add({
      label: `${route.name}: body over 64 KiB → 413`,
      request: () => ({ method: route.method, path: route.path(), json: { password: SECRET, name: "x".repeat(BODY_LIMIT + 1) } }),
      status: 413,
      code: "payload_too_large",
    });
  }
  add({
    label: "POST /registries: application/json; charset=utf-16 with UTF-8 bytes → 415",
    request: () => ({
      method: "POST",
      path: "/registries",
      body: JSON.stringify(validRegistry("utf-16 label")),
      headers: { "content-type": "application/json; charset=utf-16" },
    }),
    status: 415,
    code: "unsupported_media_type",
  });
  add({
    label: "POST /registries: application/json; charset=utf-16 with real UTF-16 bytes → 415",
    request: () => ({
      method: "POST",
      path: "/registries",
      body: new Uint8Array(Buffer.from(`\ufeff${JSON.stringify(validRegistry("utf-16 body"))}`, "utf16le")),
      headers: { "content-type": "application/json; charset=utf-16" },
    }),
    status: 415,
    code: "unsupported_media_type",
  });

  // A body whose Content-Encoding does not decode: refused as unreadable, never a 500.
  for (const encoding of ["gzip", "deflate", "br"]) {
    add({
      label: `POST /registries: Content-Encoding ${encoding} that does not decode → 400`,
      request: () => ({
        method: "POST",
        path: "/registries",
        body: JSON.stringify(validRegistry(`${encoding} label`)),
        headers: { ...json, "content-encoding": encoding },
      }),
      status: 400,
      code: "malformed_request",
    });
  }

  // Routes and methods.
  for (const [route, path] of [
    ["/nope", () => "/nope"],
    ["/registries/{id}/password", () => `/registries/${fx.keep.id}/password`],
    ["/registries/{id}/credentials", () => `/registries/${fx.keep.id}/credentials`],
    ["/sandbox-images/{id}/pull", () => `/sandbox-images/${fx.keepImage.id}/pull`],
    ["/api/registries", () => "/api/registries"],
    ["/registries/x/y/z", () => "/registries/x/y/z"],
  ] as const) {
    add({ label: `GET ${route} (unknown route) → 404`, request: () => ({ method: "GET", path: path() }), status: 404, code: "not_found" });
  }
  for (const [method, route, path] of [
    ["PATCH", "/registries/{id}", () => `/registries/${fx.keep.id}`],
    ["PATCH", "/sandbox-images/{id}", () => `/sandbox-images/${fx.keepImage.id}`],
    ["POST", "/registries/{id}", () => `/registries/${fx.keep.id}`],
    ["DELETE", "/registries", () => "/registries"],
    ["PUT", "/sandbox-images", () => "/sandbox-images"],
    ["GET", "/registries/{id}/verify", () => `/registries/${fx.keep.id}/verify`],
    ["PUT", "/sandbox-images/{id}/pull-check", () => `/sandbox-images/${fx.keepImage.id}/pull-check`],
    ["GET", "/sandbox-images/{id}/pull-credentials", () => `/sandbox-images/${fx.keepImage.id}/pull-credentials`],
  ] as const) {
    add({
      label: `${method} ${route} → 405`,
      request: () => ({ method, path: path(), ...(method !== "GET" && { json: { password: SECRET, enabled: false } }) }),
      status: 405,
      code: "method_not_allowed",
    });
  }

  return cases;
}
