import { normalisePath, type ValidatorEntry } from "./validation-messages.js";

/**
 * A request body the contract writes as `oneOf` schemas told apart by one property whose value is
 * a `const` in each (the registry create body, by `auth_type`). ajv checks a body against every
 * schema of a `oneOf` and reports the failures of all of them, so a basic body with one typo
 * would also be told that it lacks `auth_type` and that `username` is unknown: the rules of the
 * AWS schema it never meant. Here the tag picks the schema (no tag: the one whose tag may be left
 * out), and only what that schema says is kept.
 */
export interface TaggedBody {
  /** The property that tells the schemas apart (`auth_type`). */
  property: string;
  branches: readonly BodyBranch[];
}

export interface BodyBranch {
  /** The tag's value that picks this schema. */
  tag: string;
  /** Whether the tag must be sent (false: the schema a body without a tag means). */
  tagRequired: boolean;
  properties: readonly string[];
  required: readonly string[];
}

/** The schema a body picks: by its tag, or the one whose tag may be left out; undefined for an unknown tag. */
export function branchOf(tagged: TaggedBody, body: unknown): BodyBranch | undefined {
  const value = isObject(body) ? body[tagged.property] : undefined;
  return value === undefined ? tagged.branches.find((b) => !b.tagRequired) : tagged.branches.find((b) => b.tag === value);
}

/**
 * The validator's entries that belong to the schema the body picks. A body whose tag names no
 * schema gets one entry, at the tag, listing the tags there are (its other problems depend on the
 * schema it meant, which cannot be told).
 */
export function entriesOfBranch(entries: readonly ValidatorEntry[], tagged: TaggedBody, body: unknown): ValidatorEntry[] {
  const tagPath = `/body/${tagged.property}`;
  const branch = branchOf(tagged, body);
  if (!branch) {
    if (!isObject(body)) return entries.filter((e) => keywordOf(e) !== "oneOf");
    // Worded by the validator's own `enum` message form, so it reads as every other list of values.
    const tags = tagged.branches.map((b) => b.tag).join(", ");
    return [{ path: tagPath, message: `must be equal to one of the allowed values: ${tags}`, errorCode: "enum.openapi.validation" }];
  }
  // A rule both schemas share (an unknown name, a too-long `name`) is reported by each: once is enough.
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const key = `${entry.path}\u0000${entry.errorCode}\u0000${entry.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    const keyword = keywordOf(entry);
    const path = normalisePath(entry.path);
    if (keyword === "oneOf" && path === "/body") return false;
    const [, location, name] = path.split("/");
    if (location !== "body" || name === undefined) return true;
    // The picked schema's tag is right by construction: a complaint about it came from another schema.
    if (name === tagged.property) return false;
    switch (keyword) {
      case "additionalProperties":
      case "unevaluatedProperties":
        return !branch.properties.includes(name);
      case "required":
        return branch.required.includes(name);
      default:
        return branch.properties.includes(name);
    }
  });
}

function keywordOf(entry: ValidatorEntry): string | undefined {
  return entry.errorCode?.replace(/\.openapi\.validation$/, "");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
