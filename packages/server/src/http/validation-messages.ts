import { closestName } from "./closest-name.js";

/**
 * The problems express-openapi-validator (ajv underneath) finds in a request, in words a person
 * can act on: `/body/tag: must not contain spaces or other whitespace`, never
 * `must match pattern "^\S+$"`, and never the submitted value (it may be a password).
 *
 * The validator hands over `path`, ajv's English `message` and `errorCode` (`<keyword>.openapi.validation`).
 * The keyword picks the words; the one parameter a rule has (a limit, a format, a pattern, the
 * allowed values) is read from ajv's message, whose wording per keyword is fixed. A pattern's
 * words come from the contract (`x-pattern-message`), through `MessageContext`.
 */

/** At most this many problems are listed in `errors`; `detail` counts the rest. */
export const MAX_REPORTED_PROBLEMS = 20;

/** When the validator gave no entry to put in words. */
export const CONTRACT_MISMATCH_DETAIL = "The request does not match the API contract.";

export interface ValidatorEntry {
  path?: string;
  message?: string;
  errorCode?: string;
}

export interface FieldError {
  path: string;
  message: string;
}

export interface MessageContext {
  /** The contract's words for a `pattern` it has. */
  patternWords(pattern: string): string | undefined;
  /** The names known at `parent` (`/body`, `/query`), to suggest the one a mistyped name meant. */
  knownNames(parent: string): readonly string[];
}

export interface ExplainedProblems {
  /** At most MAX_REPORTED_PROBLEMS, unknown names first, then in the validator's order, each once. */
  errors: FieldError[];
  /** How many problems there were in all (a repeat among the first ones counted once). */
  total: number;
}

/**
 * Puts the validator's entries in words. A 64 KiB body can carry thousands of problems (one per
 * unknown property): one cheap pass picks the first MAX_REPORTED_PROBLEMS of each kind, and only
 * those are put in words (or compared, to drop a repeated one).
 */
export function explainProblems(entries: readonly ValidatorEntry[], context: MessageContext): ExplainedProblems {
  const unknown: ValidatorEntry[] = [];
  const others: ValidatorEntry[] = [];
  for (const entry of entries) {
    const kind = isUnknownName(entry) ? unknown : others;
    if (kind.length < MAX_REPORTED_PROBLEMS + 1) kind.push(entry);
  }
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  let repeated = 0;
  for (const entry of [...unknown, ...others]) {
    const path = normalisePath(entry.path);
    const error = { path, message: describe(entry, path, context) };
    const key = `${error.path}\u0000${error.message}`;
    if (seen.has(key)) {
      repeated++;
      continue;
    }
    seen.add(key);
    if (errors.length < MAX_REPORTED_PROBLEMS) errors.push(error);
  }
  // Beyond the ones looked at, a repeat would be counted twice: "there may be more" stays true.
  return { errors, total: entries.length - repeated };
}

/**
 * The problem's `detail`: the first problem as a sentence, and how many more there are, e.g.
 * `username is required (and 2 more problems).`
 */
export function validationDetail(errors: readonly FieldError[], total = errors.length): string {
  const first = errors[0];
  if (!first) return CONTRACT_MISMATCH_DETAIL;
  const more = total - 1;
  const sentence = `${subject(first.path)} ${first.message}`;
  const rest = more > 0 ? ` (and ${count(more, "more problem", "more problems")})` : "";
  return sentence.endsWith("?") ? `${sentence}${rest}` : `${sentence}${rest}.`;
}

/** The validator says `.body.name` or `/body/name`; answer JSON-pointer style `/body/name`. */
export function normalisePath(path: string | undefined): string {
  if (!path) return "/";
  return path.startsWith("/") ? path : `/${path.replace(/^\./, "").replace(/\./g, "/")}`;
}

function keywordOf(entry: ValidatorEntry): string | undefined {
  return entry.errorCode?.replace(/\.openapi\.validation$/, "");
}

// ajv's messages for an unknown property. Compared by message, not by errorCode: the message is
// one shared string, the errorCode a new one per entry (thousands in a hostile body), slow to compare.
const UNKNOWN_PROPERTY_MESSAGES = ["must NOT have additional properties", "must NOT have unevaluated properties"];

function isUnknownName(entry: ValidatorEntry): boolean {
  // Stryker disable next-line StringLiteral: for a missing message "" and any other text that is neither form give the same false
  const message = entry.message ?? "";
  return UNKNOWN_PROPERTY_MESSAGES.includes(message) || (entry.errorCode === undefined && UNKNOWN_QUERY.test(message));
}

// Messages express-openapi-validator writes itself (no errorCode).
const UNKNOWN_QUERY = /^Unknown query parameter '/;
const EMPTY_QUERY = /^Empty value found for query parameter '/;
const MALFORMED_URI = /^malformed uri/;

type Words = (message: string, path: string, context: MessageContext) => string;

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** ajv's keywords in words, given ajv's message (for its one parameter) and the path. */
const RULES: Record<string, Words> = {
  required: () => "is required",
  // ajv: `must have property b when property a is present` (names, never values).
  dependentRequired: (message) => {
    const present = /when property (.+) is present$/s.exec(message)?.[1];
    return present ? `is required when ${present} is sent` : "is required with another field that was sent";
  },
  additionalProperties: (_m, path, context) => unknownName("property", path, context),
  unevaluatedProperties: (_m, path, context) => unknownName("property", path, context),
  type: (message) => typeWords(message),
  minLength: (message) => withLimit(message, (n) => (n === 1 ? "must not be empty" : `must be at least ${n} characters long`)),
  maxLength: (message) => withLimit(message, (n) => `must be at most ${count(n, "character", "characters")} long`),
  minimum: (message) => withLimit(message, (n) => `must be at least ${n}`),
  maximum: (message) => withLimit(message, (n) => `must be at most ${n}`),
  exclusiveMinimum: (message) => withLimit(message, (n) => `must be greater than ${n}`),
  exclusiveMaximum: (message) => withLimit(message, (n) => `must be less than ${n}`),
  multipleOf: (message) => withLimit(message, (n) => `must be a multiple of ${n}`),
  minProperties: (message) => withLimit(message, (n) => (n === 1 ? "must have at least one property" : `must have at least ${n} properties`)),
  maxProperties: (message) => withLimit(message, (n) => `must have at most ${count(n, "property", "properties")}`),
  minItems: (message) => withLimit(message, (n) => `must have at least ${count(n, "item", "items")}`),
  maxItems: (message) => withLimit(message, (n) => `must have at most ${count(n, "item", "items")}`),
  uniqueItems: () => "must not contain the same item twice",
  // express-openapi-validator appends the allowed values (the contract's) to ajv's message.
  enum: (message) => {
    const values = /allowed values: (.*)/s.exec(message)?.[1];
    return values ? `must be one of: ${values}` : "must be one of the values the contract lists";
  },
  const: () => "must be the value the contract gives",
  format: (message) => formatWords(/^must match format "(.*)"$/s.exec(message)?.[1]),
  pattern: (message, _path, context) => {
    const pattern = /^must match pattern "(.*)"$/s.exec(message)?.[1];
    return (pattern !== undefined && context.patternWords(pattern)) || "is not in the form the contract requires";
  },
  oneOf: () => "does not match any of the forms the contract allows",
  anyOf: () => "does not match any of the forms the contract allows",
  not: () => "is in a form the contract does not allow",
};

/** The ajv keywords put in words; any other keeps ajv's own message. */
export const WORDED_KEYWORDS: ReadonlySet<string> = new Set(Object.keys(RULES));

function describe(entry: ValidatorEntry, path: string, context: MessageContext): string {
  const message = entry.message ?? "";
  const keyword = keywordOf(entry);
  if (keyword === undefined) {
    // express-openapi-validator's own checks.
    if (UNKNOWN_QUERY.test(message)) return unknownName("parameter", path, context);
    if (EMPTY_QUERY.test(message)) return "must not be empty";
    if (MALFORMED_URI.test(message)) return "is not a valid URL path (bad percent-encoding)";
    return message || "is not valid";
  }
  const rule = Object.hasOwn(RULES, keyword) ? RULES[keyword] : undefined;
  // A keyword this contract does not use today: ajv's own words, which never hold the value.
  return rule ? rule(message, path, context) : message || "is not valid";
}

function unknownName(kind: "property" | "parameter", path: string, context: MessageContext): string {
  const cut = path.lastIndexOf("/");
  const suggestion = closestName(path.slice(cut + 1), context.knownNames(path.slice(0, cut)));
  return `is not a known ${kind}${suggestion === undefined ? "" : `; did you mean "${suggestion}"?`}`;
}

/** The last number in ajv's message: `must NOT have more than 255 characters` → 255. */
function limitIn(message: string): number | undefined {
  const match = /(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?!.*\d)/i.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** ajv's message when it holds no number to put in words. */
function withLimit(message: string, words: (limit: number) => string): string {
  const n = limitIn(message);
  return n === undefined ? message : words(n);
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  null: "null",
};

/** ajv: `must be string` or, for a union, `must be string,null`. */
function typeWords(message: string): string {
  const types = /^must be (.*)$/.exec(message)?.[1]!.split(",");
  if (!types || types.some((t) => !(t in TYPE_WORDS))) return message;
  const words = types.map((t) => TYPE_WORDS[t]!);
  return `must be ${words.length > 1 ? `${words.slice(0, -1).join(", ")} or ${words.at(-1)}` : words[0]}`;
}

const FORMAT_WORDS: Record<string, string> = {
  uuid: "must be a UUID such as 0193b3c4-6a1e-7c5d-9f0a-2b3c4d5e6f70",
  email: "must be an email address",
  "date-time": "must be a date and time such as 2026-11-28T12:00:00Z",
  date: "must be a date such as 2026-11-28",
  uri: "must be an absolute URI",
  hostname: "must be a host name",
};

function formatWords(format: string | undefined): string {
  if (format === undefined) return "is not in the format the contract requires";
  return FORMAT_WORDS[format] ?? `must be in the ${format} format`;
}

/** How `detail` names a path: `username`, `query parameter limit`, `the request body`. */
function subject(path: string): string {
  const [, location, ...rest] = path.split("/");
  const name = shorten(rest.join("/"));
  if (rest.length === 0) return location === "body" ? "the request body" : path;
  switch (location) {
    case "body":
      return name;
    case "query":
      return `query parameter ${name}`;
    case "params":
      return `path parameter ${name}`;
    case "headers":
      return `header ${name}`;
    default:
      return shorten(path);
  }
}

/** A name the caller sent may be long: `detail` quotes at most 64 characters of it. */
function shorten(name: string): string {
  return name.length > 64 ? `${name.slice(0, 63)}…` : name;
}
