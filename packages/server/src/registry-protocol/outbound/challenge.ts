/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1):
 *
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * One header value may hold several challenges separated by commas, and a response may carry
 * several headers. Parameter names are case-insensitive (stored lowercase); `scope` may repeat
 * (collected in order in `scopes`); any other repeated parameter makes the header malformed, so
 * a registry cannot smuggle a second `realm`. Malformed input never throws: it yields `null`.
 */

export interface AuthChallenge {
  /** Lowercase, e.g. `"basic"`, `"bearer"`. */
  scheme: string;
  /** Lowercase names → unquoted, unescaped values; `scope` is not in here (see `scopes`). */
  params: Readonly<Record<string, string>>;
  /** Every `scope` parameter, in order. */
  scopes: readonly string[];
  /** A token68 credential-style value instead of parameters (rare in challenges). */
  token68?: string;
}

/** Longer headers are refused outright (the whole parse stays linear and small anyway). */
const MAX_HEADER_LENGTH = 16 * 1024;
const MAX_CHALLENGES = 16;
const MAX_PARAMS = 32;

/**
 * Parses one or several `WWW-Authenticate` header values.
 *
 * @returns the challenges in order; `[]` when there is no header; `null` when any value is
 *   malformed (unterminated quote, missing scheme, bad characters, duplicate parameter, …).
 * @example
 * parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="reg",scope="a",scope="b"')
 * // [{ scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg" }, scopes: ["a", "b"] }]
 */
export function parseWwwAuthenticate(header: string | readonly string[] | undefined): AuthChallenge[] | null {
  if (header === undefined) return [];
  const values = typeof header === "string" ? [header] : header;
  const challenges: AuthChallenge[] = [];
  for (const value of values) {
    if (typeof value !== "string") return null;
    const parsed = parseValue(value);
    if (parsed === null) return null;
    challenges.push(...parsed);
    if (challenges.length > MAX_CHALLENGES) return null;
  }
  return challenges;
}

/**
 * The challenge to answer: Bearer first, then Basic (Docker's order), else the first one.
 * Returns `undefined` for an empty list.
 */
export function pickChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | undefined {
  return (
    challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic") ?? challenges[0]
  );
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const TOKEN68_CHAR = /^[A-Za-z0-9\-._~+/]$/;

function parseValue(input: string): AuthChallenge[] | null {
  if (input.length > MAX_HEADER_LENGTH) return null;
  const p = new Cursor(input);
  const out: AuthChallenge[] = [];
  p.skipListSeparators();
  if (p.done()) return null; // an empty header is not a challenge
  while (!p.done()) {
    const challenge = parseChallenge(p);
    if (challenge === null) return null;
    out.push(challenge);
    // Stryker disable next-line ConditionalExpression: parseWwwAuthenticate repeats this check; this one stops early
    if (out.length > MAX_CHALLENGES) return null;
    p.skipListSeparators();
  }
  return out;
}

/** Parses one challenge; leaves the cursor after its last parameter (before a `,` or at the end). */
function parseChallenge(p: Cursor): AuthChallenge | null {
  const scheme = p.token();
  if (scheme === null) return null;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const scopes: string[] = [];
  const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params, scopes };

  if (p.done() || p.peek() === ",") return challenge;
  if (!p.spaces()) return null; // the scheme must be followed by SP
  if (p.done() || p.peek() === ",") return challenge;

  const token68 = p.tryToken68();
  if (token68 !== null) return { ...challenge, token68 };

  let count = 0;
  for (;;) {
    const param = parseParam(p);
    if (param === null) return null;
    const [name, value] = param;
    if (name === "scope") scopes.push(value);
    else if (name in params) return null;
    else params[name] = value;
    if (++count > MAX_PARAMS) return null;

    p.ows();
    if (p.done()) return challenge;
    if (p.peek() !== ",") return null;
    // After commas: another parameter of this challenge (`name =`), or the next challenge.
    const mark = p.pos;
    p.skipListSeparators();
    if (!p.startsParam()) {
      p.pos = mark;
      return challenge;
    }
  }
}

function parseParam(p: Cursor): [string, string] | null {
  const name = p.token();
  if (name === null) return null;
  p.ows();
  if (!p.eat("=")) return null;
  p.ows();
  const value = p.peek() === '"' ? p.quotedString() : p.token();
  if (value === null) return null;
  return [name.toLowerCase(), value];
}

class Cursor {
  pos = 0;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): string | undefined {
    return this.s[this.pos];
  }

  eat(ch: string): boolean {
    if (this.s[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  /** OWS = *( SP / HTAB ) */
  ows(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }

  /** 1*SP (HTAB tolerated); false if there was none. */
  spaces(): boolean {
    const start = this.pos;
    this.ows();
    return this.pos > start;
  }

  /** Skips OWS and empty list elements: `, ,  ,`. */
  skipListSeparators(): void {
    for (;;) {
      this.ows();
      if (!this.eat(",")) return;
    }
  }

  token(): string | null {
    const start = this.pos;
    while (!this.done() && TCHAR.test(this.s.charAt(this.pos))) this.pos++;
    return this.pos > start ? this.s.slice(start, this.pos) : null;
  }

  /** Lookahead: does a `token BWS "="` start here (and not a token68 ending in `=`)? */
  startsParam(): boolean {
    const mark = this.pos;
    // A `=` with no name before it fails as a parameter just as it would as the next challenge.
    this.token();
    this.ows();
    const isParam = this.eat("=");
    this.pos = mark;
    return isParam;
  }

  /**
   * token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", and only if it is
   * the whole rest of the challenge (followed by OWS then `,` or the end). Otherwise the cursor
   * does not move and null is returned.
   */
  tryToken68(): string | null {
    const mark = this.pos;
    while (!this.done() && TOKEN68_CHAR.test(this.s.charAt(this.pos))) this.pos++;
    if (this.pos === mark) return null;
    while (this.peek() === "=") this.pos++;
    const end = this.pos;
    this.ows();
    if (this.done() || this.peek() === ",") return this.s.slice(mark, end);
    this.pos = mark;
    return null;
  }

  /** quoted-string with quoted-pair; null when unterminated or holding control characters. */
  quotedString(): string | null {
    if (!this.eat('"')) return null;
    let out = "";
    while (!this.done()) {
      const ch = this.s.charAt(this.pos++);
      if (ch === '"') return out;
      if (ch === "\\") {
        const escaped = this.s.charAt(this.pos++); // "" at the end, which is no quoted-pair
        if (!isQuotedPairChar(escaped)) return null;
        out += escaped;
        continue;
      }
      if (!isQdtext(ch)) return null;
      out += ch;
    }
    return null;
  }
}

/** qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
function isQdtext(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

/** quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
function isQuotedPairChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}
