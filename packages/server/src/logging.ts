import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pino, type DestinationStream, type Logger } from "pino";

/** Every level `MODBOX_LOG_LEVEL` accepts: config.ts parses with it, the leak scan runs at each. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a secret's value becomes in a log line. */
export const REDACTED = "[redacted]";

/**
 * The one list of what a secret is called. A key is secret when its name contains one of these
 * words (any case; `-`, `_`, `.` or a space allowed between the parts: `x_registry_auth`,
 * `X-Registry-Auth`, `apiKey`), or is exactly one of {@link SECRET_KEYS_EXACT}.
 */
export const SECRET_KEY_WORDS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "authorization",
  "cookie",
  "credential",
  "ciphertext",
  "api key",
  "private key",
  "encryption key",
  "keys spec",
  "registry auth",
  "docker config json",
  "database url",
  "connection string",
] as const;

/** Short names that are secrets only on their own (`auth` in a Docker config; never `author`). */
export const SECRET_KEYS_EXACT = ["auth", "pwd", "pass"] as const;

/**
 * An identifier of a secret is not one (`tokenId`, `token_id`, `passwordKeyId`): what operators
 * need to tell tokens and keys apart stays readable.
 */
const IDENTIFIER_KEY = /(?:I[dD][sS]?|[-_. ][iI][dD][sS]?)$/;

const wordPattern = SECRET_KEY_WORDS.map((word) => word.split(" ").join("[-_. ]?")).join("|");
const SECRET_KEY = new RegExp(`${wordPattern}|^(?:${SECRET_KEYS_EXACT.join("|")})$`, "i");

/**
 * The same names as they appear in a JSON text, as a key (followed by the rest of the key, its
 * closing quote and a colon; escapes skipped). A line without a match holds no secret key and is
 * written as it is: the common case, and the access log's every line, costs one scan.
 */
const SECRET_KEY_IN_JSON = new RegExp(
  `(?:${wordPattern})(?:[^"\\\\]|\\\\.)*":|"(?:${SECRET_KEYS_EXACT.join("|")})":`,
  "i",
);

/** Whether a property of that name holds a secret, wherever it sits in a logged object. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !IDENTIFIER_KEY.test(key);
}

/** A copy of a parsed JSON value with every secret-named property's value replaced, at any depth. */
function redactParsed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactParsed);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = isSecretKey(key) ? REDACTED : redactParsed(inner);
  return out;
}

/**
 * A serialised log line with every secret-named property redacted, at any depth, in any logged
 * object, whatever logged it (bindings, serializers, pino-http's children included). pino's own
 * `redact` takes fixed paths (`*.password` is one level deep), so the line is checked after
 * serialisation instead: a line naming no secret key passes unchanged; one that does is parsed,
 * redacted and serialised again. A line that cannot be parsed is withheld, never written raw.
 */
export function redactLogLine(line: string): string {
  if (!SECRET_KEY_IN_JSON.test(line)) return line;
  try {
    return `${JSON.stringify(redactParsed(JSON.parse(line)))}\n`;
  } catch {
    return `${JSON.stringify({ level: 50, time: Date.now(), msg: "a log line was withheld: it could not be checked for secrets" })}\n`;
  }
}

/** `MODBOX_LOG_FORMAT`: JSON lines, or pino-pretty's human-readable lines. */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The format a process logs in: the one asked for (`MODBOX_LOG_FORMAT`), else human-readable on
 * a terminal outside production, else JSON (what a log collector reads).
 */
export function resolveLogFormat(
  requested: LogFormat | undefined,
  environment: { isTTY: boolean; production: boolean },
): LogFormat {
  if (requested) return requested;
  return environment.isTTY && !environment.production ? "pretty" : "json";
}

/**
 * A destination that writes each log line through pino-pretty. The line it is handed has already
 * been through {@link redactLogLine} (pino's `streamWrite` hook runs before any destination), so
 * pretty output is redacted exactly as JSON is. Synchronous, in this process, like pino's own
 * stdout destination: a line logged just before `process.exit` is not lost. pino-pretty is loaded
 * only here, so a JSON process never loads it. Colours only when `out` is stdout and a terminal
 * that supports them.
 */
export async function prettyDestination(out?: { write(text: string): unknown }): Promise<DestinationStream> {
  const { prettyFactory, isColorSupported } = (await import("pino-pretty")).default;
  const prettify = prettyFactory({
    colorize: out === undefined && isColorSupported,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "service",
    singleLine: false,
  });
  const target = out ?? pino.destination({ dest: 1, sync: true });
  return { write: (line: string) => void target.write(prettify(line)) };
}

/**
 * Structured JSON logs (to stdout, or to `destination`: a {@link prettyDestination} gets the same
 * JSON lines, already redacted, and prints them for people). Request logs carry the method, path, status and request id only: no
 * headers (tokens), no bodies (passwords). Redaction ({@link redactLogLine}) is the second line
 * of defence for any object that reaches a log by another way.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "modbox-registries" },
      hooks: { streamWrite: redactLogLine },
    },
    destination,
  );
}

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's well-formed X-Request-Id (for tracing across services), else makes one. */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers["x-request-id"];
  const id = typeof incoming === "string" && INCOMING_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader("X-Request-Id", id);
  return id;
}

export const requestLogSerializers = {
  req: (req: { id?: unknown; method?: string; url?: string }) => ({
    id: req.id,
    method: req.method,
    path: req.url?.split("?")[0],
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
};
