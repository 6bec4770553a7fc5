import { describe, expect, it } from "vitest";
import { parseWwwAuthenticate, pickChallenge } from "./challenge.js";

const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

describe("parseWwwAuthenticate", () => {
  it("parses a Docker Hub Bearer challenge", () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"';
    expect(plain(parseWwwAuthenticate(header))).toEqual([
      {
        scheme: "bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" },
        scopes: ["repository:library/ubuntu:pull"],
      },
    ]);
  });

  it("parses Basic with the scheme in any case", () => {
    for (const scheme of ["Basic", "basic", "BASIC", "bAsIc"]) {
      expect(plain(parseWwwAuthenticate(`${scheme} realm="Registry Realm"`))).toEqual([
        { scheme: "basic", params: { realm: "Registry Realm" }, scopes: [] },
      ]);
    }
  });

  it("keeps quoted commas, equals signs and escaped quotes and backslashes", () => {
    const [challenge] = parseWwwAuthenticate(
      'Bearer realm="https://a.example/token?x=1,y=2",service="say \\"hi\\", \\\\ ok",error="insufficient_scope"',
    ) ?? [];
    expect(challenge?.params).toMatchObject({
      realm: "https://a.example/token?x=1,y=2",
      service: 'say "hi", \\ ok',
      error: "insufficient_scope",
    });
  });

  it("collects every scope in order, also across headers", () => {
    const challenges = parseWwwAuthenticate([
      'Bearer realm="https://r/t",scope="repository:a:pull",scope="repository:b:pull,push"',
    ]);
    expect(challenges?.[0]?.scopes).toEqual(["repository:a:pull", "repository:b:pull,push"]);
  });

  it("lower-cases parameter names and accepts token values and optional whitespace", () => {
    const [challenge] = parseWwwAuthenticate('Bearer   Realm = "https://r/t" ,  SERVICE=reg.example ,Scope=x') ?? [];
    expect(plain(challenge)).toEqual({ scheme: "bearer", params: { realm: "https://r/t", service: "reg.example" }, scopes: ["x"] });
  });

  it("splits several challenges in one header and keeps their order", () => {
    const challenges = parseWwwAuthenticate('Negotiate, Basic realm="a", charset="UTF-8", Bearer realm="https://r/t",service="s"');
    expect(plain(challenges)).toEqual([
      { scheme: "negotiate", params: {}, scopes: [] },
      { scheme: "basic", params: { realm: "a", charset: "UTF-8" }, scopes: [] },
      { scheme: "bearer", params: { realm: "https://r/t", service: "s" }, scopes: [] },
    ]);
  });

  it("reads a token68 challenge", () => {
    expect(plain(parseWwwAuthenticate("Negotiate YII/+abc=="))).toEqual([
      { scheme: "negotiate", params: {}, scopes: [], token68: "YII/+abc==" },
    ]);
  });

  it("tolerates empty list elements", () => {
    expect(parseWwwAuthenticate(' , Basic realm="a" ,, ')?.map((c) => c.scheme)).toEqual(["basic"]);
  });

  it("returns [] without a header", () => {
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate([])).toEqual([]);
  });

  it("keeps __proto__ and constructor as plain parameters", () => {
    const [challenge] = parseWwwAuthenticate('Bearer __proto__="x",constructor="y",realm="https://r"') ?? [];
    expect(challenge?.params.realm).toBe("https://r");
    expect(Object.getPrototypeOf(challenge?.params)).toBeNull();
    expect(challenge?.params.__proto__).toBe("x");
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  const MALFORMED: ReadonlyArray<readonly [string, string]> = [
    ["empty", ""],
    ["only spaces", "   "],
    ["only commas", ", ,"],
    ["no scheme", '="x"'],
    ["param without scheme", 'realm="x"'],
    ["unterminated quote", 'Basic realm="abc'],
    ["unterminated after escape", 'Basic realm="abc\\'],
    ["escaped then unterminated", 'Basic realm="abc\\"'],
    ["missing comma between params", 'Bearer realm="a" service="b"'],
    ["missing value", 'Bearer realm=,service="b"'],
    ["missing value at end", 'Bearer realm="a",service='],
    ["double equals", 'Bearer realm=="a"'],
    ["garbage after quoted", 'Bearer realm="a"x'],
    ["control character in quotes", 'Basic realm="a\u0001b"'],
    ["newline in quotes", 'Basic realm="a\nb"'],
    ["NUL in quotes", 'Basic realm="a\u0000b"'],
    ["DEL in quotes", 'Basic realm="a\u007fb"'],
    ["non-latin1 in quotes", 'Basic realm="a\u2028b"'],
    ["semicolon separators", 'Bearer realm="a"; service="b"'],
    ["duplicate realm", 'Bearer realm="https://a/t",realm="https://evil/t"'],
    ["duplicate realm in other case", 'Bearer realm="https://a/t",REALM="https://evil/t"'],
    ["scheme with bad character", 'Bea(rer realm="a"'],
    ["scheme glued to quote", 'Bearer"realm"'],
    ["tab-less garbage", "Basic @@@"],
    ["token68 then param", 'Negotiate abc== realm="x"'],
    ["bare equals", "="],
    ["bare quote", '"'],
    ["unicode scheme", "Bäsic realm=\"a\""],
    ["too long", `Bearer realm="${"a".repeat(20_000)}"`],
    ["too many params", `Bearer ${Array.from({ length: 40 }, (_, i) => `p${i}="v"`).join(",")}`],
    ["too many challenges", Array.from({ length: 20 }, () => "Basic").join(", ")],
    ["scheme glued to a slash", "Basic/abc"],
    ["token68 of padding only", "Basic =="],
    ["escaped control character", 'Basic realm="a\\\u0001b"'],
    ["escaped DEL", 'Basic realm="a\\\u007fb"'],
    ["escaped non-latin1", 'Basic realm="a\\\u0100b"'],
    ["nameless parameter after a comma", 'Basic realm="a", =x'],
  ];

  it.each(MALFORMED)("returns null, never throws: %s", (_name, header) => {
    expect(parseWwwAuthenticate(header)).toBeNull();
  });

  it("returns null when one of several headers is malformed", () => {
    expect(parseWwwAuthenticate(['Basic realm="a"', 'Bearer realm="b'])).toBeNull();
  });

  it("never throws on random input", () => {
    const alphabet = ' ,="\\\tabcBEARERbasic=/:;\u0000\u00ff\u0100';
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      const length = next() % 40;
      let s = "";
      for (let j = 0; j < length; j++) s += alphabet[next() % alphabet.length];
      const result = parseWwwAuthenticate(s);
      expect(result === null || Array.isArray(result)).toBe(true);
    }
  });

  it("returns null for non-string array elements instead of throwing", () => {
    expect(parseWwwAuthenticate([42 as unknown as string])).toBeNull();
    expect(parseWwwAuthenticate([["B", "a", "s", "i", "c"] as unknown as string])).toBeNull();
  });

  const challenges = (n: number) => Array.from({ length: n }, () => "Basic").join(", ");

  it("accepts up to 16 challenges, in one header or across several", () => {
    expect(parseWwwAuthenticate(challenges(16))).toHaveLength(16);
    expect(parseWwwAuthenticate([challenges(8), challenges(8)])).toHaveLength(16);
    expect(parseWwwAuthenticate(challenges(17))).toBeNull();
    expect(parseWwwAuthenticate([challenges(9), challenges(8)])).toBeNull();
  });

  it("accepts up to 32 parameters (scopes count) and a header of 16 KiB", () => {
    const params = (n: number) => `Bearer realm="r",${Array.from({ length: n - 1 }, (_, i) => (i % 2 ? `scope="s${i}"` : `p${i}="v"`)).join(",")}`;
    expect(parseWwwAuthenticate(params(32))?.[0]?.params.realm).toBe("r");
    expect(parseWwwAuthenticate(params(33))).toBeNull();
    const sized = (n: number) => `Basic realm="${"a".repeat(n - 'Basic realm=""'.length)}"`;
    expect(sized(16 * 1024)).toHaveLength(16 * 1024);
    expect(parseWwwAuthenticate(sized(16 * 1024))?.[0]?.params.realm).toHaveLength(16 * 1024 - 14);
    expect(parseWwwAuthenticate(sized(16 * 1024 + 1))).toBeNull();
  });

  it("accepts a scheme followed by spaces only, or by spaces and the next challenge", () => {
    expect(plain(parseWwwAuthenticate("Basic "))).toEqual([{ scheme: "basic", params: {}, scopes: [] }]);
    expect(parseWwwAuthenticate("Basic , Negotiate")?.map((c) => c.scheme)).toEqual(["basic", "negotiate"]);
  });

  it("reads a token68 followed by another challenge", () => {
    expect(plain(parseWwwAuthenticate('Negotiate abc==, Basic realm="a"'))).toEqual([
      { scheme: "negotiate", params: {}, scopes: [], token68: "abc==" },
      { scheme: "basic", params: { realm: "a" }, scopes: [] },
    ]);
  });

  it("tolerates tabs as whitespace", () => {
    expect(plain(parseWwwAuthenticate('Bearer\trealm\t=\t"r",\tservice="s"'))).toEqual([
      { scheme: "bearer", params: { realm: "r", service: "s" }, scopes: [] },
    ]);
  });

  it("keeps every qdtext character in a quoted value: tab, space, !, #, [, ], ~ and latin-1", () => {
    const value = "a\tb !#[]~\u0080\u00ff";
    expect(parseWwwAuthenticate(`Basic realm="${value}"`)?.[0]?.params.realm).toBe(value);
  });

  it("unescapes every quoted-pair character: tab, space, ~ and latin-1", () => {
    expect(parseWwwAuthenticate('Basic realm="\\\t\\ \\~\\\u0080\\\u00ff"')?.[0]?.params.realm).toBe("\t ~\u0080\u00ff");
  });
});

describe("pickChallenge", () => {
  it("prefers Bearer, then Basic, then the first", () => {
    const both = parseWwwAuthenticate('Basic realm="a", Bearer realm="https://r/t"') ?? [];
    expect(pickChallenge(both)?.scheme).toBe("bearer");
    const basic = parseWwwAuthenticate('Negotiate, Basic realm="a"') ?? [];
    expect(pickChallenge(basic)?.scheme).toBe("basic");
    const other = parseWwwAuthenticate("Negotiate, NTLM") ?? [];
    expect(pickChallenge(other)?.scheme).toBe("negotiate");
    expect(pickChallenge([])).toBeUndefined();
  });
});
