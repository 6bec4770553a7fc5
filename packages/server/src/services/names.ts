import { DomainError } from "../errors.js";

/**
 * Names of registries and sandbox images: what people read in lists and pick from, so two names
 * must not look alike while being different text, and no part of a name may be hidden.
 *
 * - Stored NFC-normalised: `é` typed as one code point or as `e` + U+0301 is the same name, and
 *   the unique index on registry names compares what is stored.
 * - Refused (422 naming the rule, never the value), in this order: control characters and line
 *   breaks; invisible characters (Unicode format characters, `Cf`: zero-width spaces and joiners,
 *   bidi controls, byte order marks, soft hyphens…, and the other default-ignorable code points:
 *   Hangul fillers, variation selectors…), except inside a complete emoji sequence (`👩‍💻` joins
 *   two emoji with U+200D, `⚙️` ends in a variation selector: both are visible as one emoji);
 *   whitespace at either end; more characters than the contract allows once normalised (NFC can
 *   lengthen a few characters, U+1D160 becomes three). Unpaired surrogates and NUL are refused
 *   before this (http/reject-unstorable-text.ts); the same rules hold here for callers that
 *   bypass HTTP.
 */

/** `maxLength` of RegistryName and SandboxImageName in openapi.yaml, in code points (as ajv counts). */
export const NAME_MAX_LENGTH = 255;

export const NAME_RULES = {
  empty: "must not be empty",
  unpairedSurrogate: "must not contain unpaired UTF-16 surrogates",
  control: "must not contain control characters or line breaks",
  invisible:
    "must not contain invisible characters (zero-width spaces and joiners, bidi controls, byte order marks, " +
    "other Unicode format or default-ignorable characters) outside an emoji sequence",
  edgeWhitespace: "must not begin or end with whitespace",
  tooLong: `must be at most ${NAME_MAX_LENGTH} characters once NFC-normalised`,
} as const;

// Cc, and the line and paragraph separators (Zl, Zp): a name is one line.
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
// The `v` flag's property of strings (complete RGI emoji sequences), built at run time because
// the compile target predates it; Node 20 has it.
const EMOJI_SEQUENCE = new RegExp("\\p{RGI_Emoji}", "gv");
// JS `\s` and Unicode White_Space differ at the edges (U+0085 is only White_Space, U+FEFF only `\s`).
const EDGE_WHITESPACE = /^[\s\p{White_Space}]|[\s\p{White_Space}]$/u;

export type NameResult = { ok: true; name: string } | { ok: false; reason: string };

/** The name as it is stored, or the rule it breaks. */
export function normaliseName(input: string): NameResult {
  if (!input.isWellFormed()) return { ok: false, reason: NAME_RULES.unpairedSurrogate };
  const name = input.normalize("NFC");
  if (name.length === 0) return { ok: false, reason: NAME_RULES.empty };
  if (CONTROL.test(name)) return { ok: false, reason: NAME_RULES.control };
  // Stryker disable next-line StringLiteral: the text that stands in for an emoji is only searched for invisible characters; any visible text does as well as none
  if (INVISIBLE.test(name) && INVISIBLE.test(name.replace(EMOJI_SEQUENCE, ""))) {
    return { ok: false, reason: NAME_RULES.invisible };
  }
  if (EDGE_WHITESPACE.test(name)) return { ok: false, reason: NAME_RULES.edgeWhitespace };
  if (codePoints(name) > NAME_MAX_LENGTH) return { ok: false, reason: NAME_RULES.tooLong };
  return { ok: true, name };
}

/** The stored form of `name`, or a 422 `validation_failed` naming `/body/name` and the rule. */
export function normaliseNameOrThrow(name: string): string {
  const result = normaliseName(name);
  if (!result.ok) {
    throw new DomainError("validation_failed", "The name breaks a naming rule.", {
      fieldErrors: [{ path: "/body/name", message: result.reason }],
    });
  }
  return result.name;
}

/** `input` with its name (when it has one: updates may leave it out) in the stored form. */
export function withNormalisedName<T extends { name?: string | undefined }>(input: T): T {
  return input.name === undefined ? input : { ...input, name: normaliseNameOrThrow(input.name) };
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
