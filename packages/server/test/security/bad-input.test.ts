/**
 * Hostile input, over real HTTP on every backend.
 *
 * One table of hand-written attacks (malformed JSON, wrong types, over-long and empty strings,
 * bad ids, bad queries and cursors, bad headers, wrong media types, oversized bodies, unknown
 * routes and methods), each with the status the contract gives it; then a seeded,
 * schema-driven fuzz of every create and update operation. Whatever comes in: never a 5xx,
 * always an RFC 9457 problem for an error, never the submitted password echoed, and nothing
 * already stored is lost or changed. The table itself is data, in bad-input.cases.ts.
 *
 * Reproduce a fuzz failure with `FUZZ_SEED=<seed> npx vitest run packages/server/test/security`.
 */
import { randomBytes } from "node:crypto";
import type { Registry } from "@modbox/sdk";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "@modbox/testkit/app";
import { backends, rowsOf } from "@modbox/testkit/databases";
import {
  expectProblem,
  header,
  mapLimit,
  PROBLEM_CONTENT_TYPE,
  send,
  type RawResponse,
} from "@modbox/testkit/http";
import { freshWorkspaceId } from "@modbox/testkit/ids";
import { BODY_LIMIT, hostileInputCases, json, SECRET, validImage, validRegistry, type HostileFixtures } from "./bad-input.cases.js";

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026);
const FUZZ_CASES_PER_OPERATION = 520;
const FUZZ_CONCURRENCY = 8;

/** A tiny seeded PRNG (mulberry32): the same seed gives the same fuzz cases. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The stored row, every column, in JSON form. */
async function storedRow(app: TestApp, table: "registries" | "sandbox_images", id: string) {
  const rows = rowsOf(
    table === "registries"
      ? await app.database.db.execute(sql`select * from registries where id = ${id}`)
      : await app.database.db.execute(sql`select * from sandbox_images where id = ${id}`),
  );
  expect(rows).toHaveLength(1);
  return JSON.parse(JSON.stringify(rows[0])) as Record<string, unknown>;
}

describe.each(backends)("hostile input on %s", (backend) => {
  let app: TestApp;
  const W = freshWorkspaceId("hostile");
  const fx = {} as HostileFixtures;

  beforeAll(async () => {
    app = await startTestApp(backend, { bodyLimitBytes: BODY_LIMIT });
    const client = app.client(W);
    fx.keep = await client.registries.create({ ...validRegistry("The one we keep"), password: `keep-${SECRET}` });
    fx.other = await client.registries.create(validRegistry("Another"));
    await client.registries.create(validRegistry("A third"));
    fx.accented = await client.registries.create(validRegistry("Caf\u00e9 cr\u00e8me"));
    fx.keepImage = await client.sandboxImages.create(validImage(fx.keep.id));
    await client.sandboxImages.create({ ...validImage(fx.keep.id), name: "Second image" });
    fx.spareImage = await client.sandboxImages.create({ ...validImage(null), name: "Spare image" });
    fx.keepRow = await storedRow(app, "registries", fx.keep.id);
    fx.keepImageRow = await storedRow(app, "sandbox_images", fx.keepImage.id);
    const cursorOf = async (path: string) => {
      const res = await send(app.url, { method: "GET", path, workspace: W, token: app.token });
      const cursor = (res.json as { next_cursor?: unknown }).next_cursor;
      expect(cursor, path).toBeTypeOf("string");
      return cursor as string;
    };
    fx.enabledCursor = await cursorOf("/registries?enabled=true&limit=1");
    fx.serverCursor = await cursorOf("/registries?server=ghcr.io&limit=1");
    fx.imageCursor = await cursorOf(`/sandbox-images?registry_id=${fx.keep.id}&limit=1`);
  });
  afterAll(() => app?.close());

  const cases = hostileInputCases(fx, {
    get token() {
      return app.token;
    },
  });

  test("the table is large enough to mean something", () => {
    expect(cases.length).toBeGreaterThanOrEqual(400);
    expect(new Set(cases.map((c) => c.label)).size, "labels are unique").toBe(cases.length);
  });

  test.each(cases.map((c) => [c.label, c] as const))("%s", async (_label, c) => {
    const res = await send(app.url, { workspace: W, token: app.token, ...c.request() });
    const problem = expectProblem(res, c.status, c.code, c.label);
    if (c.errorPath) {
      const paths = ((problem.errors ?? []) as Array<{ path: string }>).map((e) => e.path);
      expect(paths, c.label).toContain(c.errorPath);
    }
    // On the case's expected status (asserted above), not on the answer under test.
    if (c.status === 401) expect(header(res, "www-authenticate")).toMatch(/^Bearer\b/);
    expect(res.text.includes(SECRET), "the answer echoes the password sent").toBe(false);
    for (const value of c.mustNotEcho?.() ?? []) {
      expect(res.text.includes(value), "the answer echoes the submitted value").toBe(false);
    }
  });

  // Lone surrogates in the other text fields: the contract does not say whether they are refused
  // (422) or stored (2xx, as U+FFFD), but a 5xx is never an answer. Preceded by a non-ASCII
  // character, they break PGlite's encoder (SQLSTATE 22021).
  const surrogateFields: Array<[string, string, () => string, (value: string) => Record<string, unknown>]> = [
    ["POST /registries", "name", () => "/registries", (v) => ({ ...validRegistry(), name: v })],
    ["POST /registries", "username", () => "/registries", (v) => ({ ...validRegistry(), username: v })],
    ["PUT /registries/{id}", "name", () => `/registries/${fx.other.id}`, (v) => ({ name: v })],
    ["POST /sandbox-images", "description", () => "/sandbox-images", (v) => ({ ...validImage(null), description: v })],
    ["PUT /sandbox-images/{id}", "description", () => `/sandbox-images/${fx.keepImage.id}`, (v) => ({ description: v })],
  ];
  test.each(
    surrogateFields.flatMap(([route, field, path, body]) =>
      ["x\ud83dy", "é\udc00", "中\udc00z", "\udfff"].map((value) => [`${route}: ${field} ${JSON.stringify(value)}`, route, path, body, value] as const),
    ),
  )("%s: 2xx or 4xx, never a 5xx", async (label, route, path, body, value) => {
    const method = route.split(" ")[0]!;
    // Never on the fixture we keep: a 2xx here is allowed and would change it.
    const target = route === "PUT /sandbox-images/{id}" ? `/sandbox-images/${fx.spareImage.id}` : path();
    const res = await send(app.url, { method, path: target, workspace: W, token: app.token, json: body(value) });
    if (res.status >= 400) {
      const problem = expectProblem(res, "4xx", undefined, label);
      // Stored as U+FFFD, two different inputs may become one name: 409 is then right too.
      expect(["validation_failed", "registry_name_taken"], label).toContain(problem.code);
    } else {
      expect([200, 201], label).toContain(res.status);
    }
  });

  // ─── Positive controls: the cases above fail for the reason they name ─────────────────────

  test("the valid bodies the cases start from are accepted", async () => {
    const registry = await send(app.url, { method: "POST", path: "/registries", workspace: W, token: app.token, json: validRegistry() });
    expect(registry.status, registry.text).toBe(201);
    const image = await send(app.url, {
      method: "POST",
      path: "/sandbox-images",
      workspace: W,
      token: app.token,
      json: validImage((registry.json as Registry).id),
    });
    expect(image.status, image.text).toBe(201);
    expect(registry.text + image.text).not.toContain(SECRET);
  });

  test("every limit is inclusive: the maximum lengths and bounds are accepted", async () => {
    // A 253-character host (the DNS maximum; hosts.ts refuses longer ones whatever the schema's
    // 512 allows) with a port, typed with a scheme and /v2/ as users paste it.
    const host = `${["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(57)].join(".")}.com`;
    expect(host).toHaveLength(253);
    const registry = await send(app.url, {
      method: "POST",
      path: "/registries",
      workspace: W,
      token: app.token,
      json: {
        name: `${"N".repeat(247)}${randomBytes(4).toString("hex")}`,
        server: `https://${host}:65535/v2/`,
        username: "U".repeat(255),
        password: "p".repeat(8192),
        email: `${"e".repeat(64)}@${"x".repeat(63)}.${"y".repeat(63)}.${"z".repeat(58)}.com`,
        ca_certificate: null,
      },
    });
    expect(registry.status, registry.text.slice(0, 300)).toBe(201);
    expect(registry.json).toMatchObject({ server: `${host}:65535`, username: "U".repeat(255), provider: "self_hosted" });
    expect(registry.text).not.toContain("p".repeat(64));

    // A server of exactly 512 characters passes the schema: its 422 comes from the host rules.
    const longServer = await send(app.url, {
      method: "POST",
      path: "/registries",
      workspace: W,
      token: app.token,
      json: { ...validRegistry(), server: `${"s".repeat(508)}.com` },
    });
    const problem = expectProblem(longServer, 422, "validation_failed");
    expect(problem.errors).toEqual([{ path: "/body/server", message: expect.not.stringContaining("512") }]);

    // image: 512 characters (a digest of an algorithm Docker does not know is limited by the
    // grammar alone), and a name at the reference grammar's 255 (canonical, with its host).
    const longImage = `ghcr.io/acme/app@blake3:${"a".repeat(512 - "ghcr.io/acme/app@blake3:".length)}`;
    const longName = `registry.example.com/${"n".repeat(255 - "registry.example.com/".length)}`;
    expect(longImage).toHaveLength(512);
    expect(longName).toHaveLength(255);
    for (const image of [longImage, longName]) {
      const res = await send(app.url, {
        method: "POST",
        path: "/sandbox-images",
        workspace: W,
        token: app.token,
        json: {
          name: "N".repeat(255),
          image,
          tag: `t${"_".repeat(126)}t`,
          description: "d".repeat(1000),
          memory_mb: 8192,
          ttl_seconds: 60,
          readiness_port: 65535,
        },
      });
      expect(res.status, res.text.slice(0, 300)).toBe(201);
    }
    const low = await send(app.url, {
      method: "POST",
      path: "/sandbox-images",
      workspace: W,
      token: app.token,
      json: { name: "n", image: "i", tag: "t", memory_mb: 256, ttl_seconds: 86400, readiness_port: 1 },
    });
    expect(low.status, low.text).toBe(201);
    expect(low.json).toMatchObject({ reference: "docker.io/library/i:t" });
  });

  test("the bearer scheme is case-insensitive (RFC 9110 §11.1)", async () => {
    const res = await send(app.url, { method: "GET", path: "/registries", workspace: W, headers: { authorization: `bearer ${app.token}` } });
    expect(res.status).toBe(200);
  });

  test("a BOM before a valid body is either refused (400) or ignored (RFC 8259 §8.1), never misread", async () => {
    const name = `bom-${randomBytes(4).toString("hex")}`;
    const res = await send(app.url, {
      method: "POST",
      path: "/registries",
      workspace: W,
      token: app.token,
      body: `\ufeff${JSON.stringify(validRegistry(name))}`,
      headers: json,
    });
    expect([201, 400]).toContain(res.status);
    if (res.status === 400) expectProblem(res, 400, "malformed_request");
    else expect((res.json as Registry).name).toBe(name);
    expect(res.text).not.toContain(SECRET);
  });

  test("405 answers list the allowed methods in Allow (RFC 9110 §15.5.6: MUST)", async () => {
    const res = await send(app.url, { method: "PATCH", path: `/registries/${fx.keep.id}`, workspace: W, token: app.token, json: { enabled: false } });
    expectProblem(res, 405, "method_not_allowed");
    const allow = (header(res, "allow") ?? "").split(",").map((m) => m.trim().toUpperCase()).filter(Boolean).sort();
    expect(allow).toEqual(["DELETE", "GET", "HEAD", "PUT"]);
    for (const path of [`/registries/${fx.keep.id}/verify`, `/sandbox-images/${fx.keepImage.id}/pull-check`, `/sandbox-images/${fx.keepImage.id}/pull-credentials`]) {
      const get = await send(app.url, { method: "GET", path, workspace: W, token: app.token });
      expectProblem(get, 405, "method_not_allowed", path);
      expect(header(get, "allow"), path).toBe("POST");
    }
  });

  // ─── Fuzz ─────────────────────────────────────────────────────────────────────────────────

  test(
    `schema-driven fuzz: ${FUZZ_CASES_PER_OPERATION} mutations per create/update operation, never a 5xx (seed ${FUZZ_SEED})`,
    { timeout: 90_000 },
    async () => {
      const FW = freshWorkspaceId("fuzz");
      const client = app.client(FW);
      const target = await client.registries.create(validRegistry("fuzz target"));
      const targetImage = await client.sandboxImages.create(validImage(target.id));
      const random = mulberry32(FUZZ_SEED);
      const gen = fuzzGenerators(random, [target.id]);

      const operations = [
        { name: "POST /registries", method: "POST", path: "/registries", base: () => ({ ...validRegistry(`fuzz ${gen.int(1e9)}`) }) },
        { name: "PUT /registries/{id}", method: "PUT", path: `/registries/${target.id}`, base: () => gen.subset({ ...validRegistry(`fuzz ${gen.int(1e9)}`) }) },
        { name: "POST /sandbox-images", method: "POST", path: "/sandbox-images", base: () => ({ ...validImage(target.id) }) },
        { name: "PUT /sandbox-images/{id}", method: "PUT", path: `/sandbox-images/${targetImage.id}`, base: () => gen.subset({ ...validImage(target.id) }) },
      ] as const;

      // Every case is generated before any is sent: the seed alone decides them.
      const fuzzCases = operations.flatMap((op) =>
        Array.from({ length: FUZZ_CASES_PER_OPERATION }, (_, i) => {
          const mutated = gen.mutate(op.base());
          return { op: op.name, index: i, method: op.method, path: op.path, body: mutated.body, description: mutated.description };
        }),
      );

      const results = await mapLimit(fuzzCases, FUZZ_CONCURRENCY, async (c) => {
        const res = await send(app.url, { method: c.method, path: c.path, workspace: FW, token: app.token, body: c.body, headers: json });
        return { c, res, problems: fuzzVerdict(res) };
      });

      const failures = results.filter((r) => r.problems.length > 0);
      const byKind = new Map<string, number>();
      for (const f of failures) {
        const key = `${f.c.op} → ${f.res.status} ${(f.res.json as { code?: string } | undefined)?.code ?? ""}: ${f.problems.join(", ")}`;
        byKind.set(key, (byKind.get(key) ?? 0) + 1);
      }
      const examples = failures
        .slice(0, 8)
        .map((f) => `#${f.c.index} ${f.c.op} [${f.c.description}] → ${f.res.status}: ${typeof f.c.body === "string" ? f.c.body.slice(0, 160) : "(bytes)"}`);
      expect(
        failures.length,
        [`seed ${FUZZ_SEED}: ${failures.length}/${results.length} cases failed`, ...[...byKind].map(([k, n]) => `  ${n}× ${k}`), "examples:", ...examples].join("\n"),
      ).toBe(0);

      // The fuzz reached both sides of the validator.
      const statuses = new Set(results.map((r) => r.res.status));
      expect(statuses.has(422)).toBe(true);
      expect([...statuses].some((s) => s === 200 || s === 201)).toBe(true);
      expect(statuses.has(400)).toBe(true);
    },
  );

  // Declared last: runs after every case above.
  test("afterwards, what was stored before is unchanged", async () => {
    const client = app.client(W);
    expect(await client.registries.get(fx.keep.id)).toEqual(fx.keep);
    expect(await client.sandboxImages.get(fx.keepImage.id)).toEqual(fx.keepImage);
    expect(await storedRow(app, "registries", fx.keep.id)).toEqual(fx.keepRow);
    expect(await storedRow(app, "sandbox_images", fx.keepImage.id)).toEqual(fx.keepImageRow);
  });
});

/** What is wrong with one fuzz answer (empty: nothing). */
function fuzzVerdict(res: RawResponse): string[] {
  const problems: string[] = [];
  if (res.status >= 500) problems.push("5xx");
  if (res.status < 200 || (res.status >= 300 && res.status < 400)) problems.push("unexpected status");
  if (res.text.includes(SECRET)) problems.push("echoes the password");
  if (res.status >= 400) {
    const p = res.json as Record<string, unknown> | undefined;
    if (!PROBLEM_CONTENT_TYPE.test(header(res, "content-type") ?? "")) problems.push("not problem+json");
    if (!p || typeof p !== "object") problems.push("no problem body");
    else {
      for (const member of ["type", "title", "code", "request_id"]) if (typeof p[member] !== "string") problems.push(`no ${member}`);
      if (p.status !== res.status) problems.push("problem.status differs");
    }
  } else if (res.status >= 200 && res.status < 300) {
    if (!/^application\/json/.test(header(res, "content-type") ?? "")) problems.push("2xx not application/json");
    if (hasPasswordProperty(res.json)) problems.push("2xx has a password property");
  }
  return problems;
}

function hasPasswordProperty(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasPasswordProperty);
  if (value === null || typeof value !== "object") return false;
  return Object.entries(value).some(([k, v]) => k === "password" || hasPasswordProperty(v));
}

/** Random values and body mutations, all drawn from one seeded PRNG. */
function fuzzGenerators(random: () => number, knownIds: string[]) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => random() < p;

  const pools = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@",
    " \t\n\r",
    "\u0000\u0001\u0007\u0008\u000b\u000c\u001b\u001f\u007f",
    "éüß中文ひらがなالعربية",
    "\u200b\u200e\u202e\u2028\u2029\ufeff\ufffd",
    "😀🔥👩‍💻",
    "\ud800\udbff\udc00\udfff",
    "'\"\\`;%$<>&{}[]()*|",
  ];
  const uuidish = () => {
    const hex = Array.from({ length: 32 }, () => "0123456789abcdef"[int(16)]).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  const string = (): string => {
    const length = chance(0.7) ? int(24) : chance(0.7) ? 100 + int(600) : 2000 + int(6000);
    const pool = chance(0.5) ? pools[0]! : pools.slice(0, 1 + int(pools.length)).join("");
    let s = "";
    for (let i = 0; i < length; i++) s += pool[int(pool.length)]!;
    return s;
  };
  /** 1 to 40 characters from every pool: passes most length rules, exercises storage. */
  const shortString = (): string => {
    const pool = pools.join("");
    let s = pools[0]![int(pools[0]!.length)]!;
    for (let i = int(40); i > 0; i--) s += pool[int(pool.length)]!;
    return s;
  };
  const scalar = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => true,
      () => false,
      () => 0,
      () => -0,
      () => int(10_000),
      () => -int(10_000),
      () => random() * 100_000,
      () => 2 ** 31,
      () => 2 ** 53 + 2,
      () => Number.MAX_VALUE,
      () => Number.MIN_VALUE,
      () => "",
      () => " ",
      string,
      string,
      string,
      uuidish,
      () => pick(knownIds),
      () => "ghcr.io",
      () => "a@b.co",
      () => "2026-01-01T00:00:00Z",
      () => "true",
      () => "1024",
      () => "__proto__",
    ])();
  const value = (depth = 0): unknown => {
    if (depth < 2 && chance(0.15)) return Array.from({ length: int(4) }, () => value(depth + 1));
    if (depth < 2 && chance(0.1)) {
      const o: Record<string, unknown> = {};
      for (let i = int(3); i > 0; i--) setOwn(o, key(), value(depth + 1));
      return o;
    }
    return scalar();
  };
  const key = () =>
    pick([
      "extra",
      "password",
      "passwd",
      "password_ciphertext",
      "workspace_id",
      "id",
      "version",
      "deleted_at",
      "registry_name",
      "__proto__",
      "constructor",
      "",
      "name ",
      "NAME",
      string().slice(0, 12),
    ]);
  /** Swaps a value for one of another JSON type. */
  const swapType = (v: unknown): unknown => {
    if (typeof v === "string") return pick<unknown>([v.length, [v], { v }, v === "" ? 0 : Number(v), true, null]);
    if (typeof v === "number") return pick<unknown>([String(v), [v], v + 0.5, -v, v > 0, null]);
    if (typeof v === "boolean") return pick<unknown>([String(v), Number(v), [v], null]);
    if (v === null) return pick<unknown>(["null", 0, false, {}, []]);
    return pick<unknown>(["", 0, false, null]);
  };
  /** Own property even for `__proto__`, so JSON.stringify sends it. */
  function setOwn(o: Record<string, unknown>, k: string, v: unknown) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }

  return {
    int,
    /** A non-empty random subset of a valid body (an update). */
    subset(body: Record<string, unknown>): Record<string, unknown> {
      const keys = Object.keys(body).filter(() => chance(0.4));
      const chosen = keys.length > 0 ? keys : [pick(Object.keys(body))];
      return Object.fromEntries(chosen.map((k) => [k, body[k]]));
    },
    /** One to four mutations; sometimes the whole body is replaced or its JSON corrupted. */
    mutate(body: Record<string, unknown>): { body: string; description: string } {
      const steps: string[] = [];
      let current: unknown = body;
      if (chance(0.04)) {
        current = value();
        steps.push("replace body");
      } else if (chance(0.3)) {
        // Gentle: keep the JSON types, so more cases get past the validator to the services and
        // the database (where text the schema allows may still be refused).
        const o = { ...body };
        for (let n = 1 + int(2); n > 0; n--) {
          const field = pick(Object.keys(o));
          const v = o[field];
          if (typeof v === "string") {
            setOwn(o, field, shortString());
            steps.push(`short string ${field}`);
          } else if (typeof v === "number") {
            setOwn(o, field, pick([int(70_000), -int(100), 256 + int(7937), 1 + int(65535), 60 + int(86341)]));
            steps.push(`integer ${field}`);
          } else if (Object.keys(o).length > 1) {
            delete o[field];
            steps.push(`delete ${field}`);
          }
        }
        current = o;
      } else {
        const o = { ...body };
        for (let n = 1 + int(4); n > 0; n--) {
          const keys = Object.keys(o);
          const field = keys.length > 0 ? pick(keys) : "name";
          switch (int(6)) {
            case 0:
              delete o[field];
              steps.push(`delete ${field}`);
              break;
            case 1:
              setOwn(o, field, value());
              steps.push(`random ${field}`);
              break;
            case 2:
              setOwn(o, field, swapType(o[field]));
              steps.push(`swap type ${field}`);
              break;
            case 3: {
              const k = key();
              setOwn(o, k, value());
              steps.push(`extra field`);
              break;
            }
            case 4:
              setOwn(o, field, string());
              steps.push(`string ${field}`);
              break;
            default:
              setOwn(o, field, null);
              steps.push(`null ${field}`);
          }
        }
        current = o;
      }
      let text = JSON.stringify(current) ?? "null";
      if (chance(0.04)) {
        const at = int(text.length);
        text = chance(0.5) ? text.slice(0, at) : `${text.slice(0, at)}${pick(["{", "}", ",", '"', ":", "\\", "\u0000"])}${text.slice(at)}`;
        steps.push("corrupt JSON");
      }
      return { body: text, description: steps.join(", ") };
    },
  };
}
