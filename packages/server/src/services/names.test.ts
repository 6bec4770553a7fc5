import { contractSchema } from "@modbox/testkit/contract";
import { describe, expect, it } from "vitest";
import { DomainError } from "../errors.js";
import { NAME_MAX_LENGTH, NAME_RULES, normaliseName, normaliseNameOrThrow, withNormalisedName } from "./names.js";

describe("normaliseName", () => {
  it.each(["RegistryName", "SandboxImageName"])("NAME_MAX_LENGTH is the contract's maxLength of %s", (schema) => {
    expect(contractSchema(schema).maxLength).toBe(NAME_MAX_LENGTH);
  });

  it.each([
    ["ASCII", "GitHub Container Registry"],
    ["accents, composed", "Équipe café"],
    ["other scripts", "中文 ひらがな العربية Ελληνικά"],
    ["inner spaces of every kind (only the edges are refused)", "Docker\u00a0Hub\u3000東京 eu-west"],
    ["punctuation", "ghcr.io/acme (prod) #1 — 50%"],
    ["combining marks on letters", "Zoe\u0308 and a\u0300"],
    ["an emoji", "prod 🚀"],
    ["an emoji with a variation selector", "⚙️ CI"],
    ["a ZWJ emoji sequence", "👩‍💻 dev"],
    ["a keycap and a flag", "1️⃣ 🇫🇷 🏴󠁧󠁢󠁥󠁮󠁧󠁿"],
    ["a single character", "x"],
    [`${NAME_MAX_LENGTH} characters`, "n".repeat(NAME_MAX_LENGTH)],
    [`${NAME_MAX_LENGTH} astral characters (code points, not UTF-16 units)`, "😀".repeat(NAME_MAX_LENGTH)],
  ])("accepts %s", (_label, name) => {
    expect(normaliseName(name)).toEqual({ ok: true, name: name.normalize("NFC") });
  });

  it.each([
    ["e + U+0301", "Cafe\u0301", "Café"],
    ["A + U+030A", "A\u030Angström", "Ångström"],
    ["the Angstrom sign U+212B (a canonical singleton)", "\u212Bngström", "Ångström"],
    ["the Ohm sign U+2126", "\u2126 meter", "Ω meter"],
    ["Hangul jamo", "\u1112\u1161\u11AB", "한"],
    ["stacked marks in canonical order", "a\u0323\u0302", "\u1EAD"],
  ])("stores the NFC form: %s", (_label, input, stored) => {
    const result = normaliseName(input);
    expect(result).toEqual({ ok: true, name: stored });
    expect(stored.normalize("NFC")).toBe(stored);
  });

  it.each([
    ["empty", "", NAME_RULES.empty],
    ["a lone high surrogate", "x\ud83dy", NAME_RULES.unpairedSurrogate],
    ["a lone low surrogate", "\udc00", NAME_RULES.unpairedSurrogate],
    ["NUL", "a\u0000b", NAME_RULES.control],
    ["a tab inside", "Docker\tHub", NAME_RULES.control],
    ["a newline inside", "Docker\nHub", NAME_RULES.control],
    ["ESC (terminal escapes)", "\u001b[31mred", NAME_RULES.control],
    ["DEL", "a\u007fb", NAME_RULES.control],
    ["a C1 control (NEL)", "a\u0085b", NAME_RULES.control],
    ["U+2028 line separator", "Docker\u2028Hub", NAME_RULES.control],
    ["U+2029 paragraph separator", "Docker\u2029Hub", NAME_RULES.control],
    ["zero-width space", "Docker\u200bHub", NAME_RULES.invisible],
    ["zero-width non-joiner", "Docker\u200cHub", NAME_RULES.invisible],
    ["zero-width joiner outside an emoji sequence", "Docker\u200dHub", NAME_RULES.invisible],
    ["a zero-width joiner dangling after an emoji", "👩\u200d", NAME_RULES.invisible],
    ["a zero-width joiner between emoji that form no sequence", "😀\u200d😀", NAME_RULES.invisible],
    ["word joiner", "Docker\u2060Hub", NAME_RULES.invisible],
    ["BOM inside", "Docker\ufeffHub", NAME_RULES.invisible],
    ["soft hyphen", "Dock\u00ader", NAME_RULES.invisible],
    ["right-to-left override (evil\\u202egnp.exe)", "evil\u202egnp.exe", NAME_RULES.invisible],
    ["left-to-right embedding", "a\u202ab", NAME_RULES.invisible],
    ["pop directional formatting", "a\u202cb", NAME_RULES.invisible],
    ["right-to-left isolate", "a\u2067b\u2069", NAME_RULES.invisible],
    ["first strong isolate", "a\u2068b", NAME_RULES.invisible],
    ["left-to-right mark", "a\u200eb", NAME_RULES.invisible],
    ["right-to-left mark", "a\u200fb", NAME_RULES.invisible],
    ["Arabic letter mark", "a\u061cb", NAME_RULES.invisible],
    ["Hangul filler", "Docker\u3164Hub", NAME_RULES.invisible],
    ["a variation selector on a letter", "Docker\ufe0fHub", NAME_RULES.invisible],
    ["a tag character", "a\u{E0041}b", NAME_RULES.invisible],
    ["a trailing space", "name ", NAME_RULES.edgeWhitespace],
    ["a leading space", " name", NAME_RULES.edgeWhitespace],
    ["a trailing no-break space", "name\u00a0", NAME_RULES.edgeWhitespace],
    ["a leading ideographic space", "\u3000name", NAME_RULES.edgeWhitespace],
    ["a trailing en quad (NFC makes it an en space)", "name\u2000", NAME_RULES.edgeWhitespace],
    ["whitespace only", "   ", NAME_RULES.edgeWhitespace],
    [`${NAME_MAX_LENGTH + 1} characters`, "n".repeat(NAME_MAX_LENGTH + 1), NAME_RULES.tooLong],
    // U+1D160 is excluded from composition: NFC decomposes it into three code points.
    [`${NAME_MAX_LENGTH} characters that NFC makes ${NAME_MAX_LENGTH * 3}`, "\u{1D160}".repeat(NAME_MAX_LENGTH), NAME_RULES.tooLong],
  ])("refuses %s", (_label, name, reason) => {
    expect(normaliseName(name)).toEqual({ ok: false, reason });
  });

  it("every rule's message names the rule, not a value", () => {
    for (const message of Object.values(NAME_RULES)) expect(message).toMatch(/^must /);
  });
});

describe("normaliseNameOrThrow", () => {
  it("answers 422 validation_failed at /body/name with the rule and without the value", () => {
    const name = "evil\u202egnp.exe";
    const err = (() => {
      try {
        normaliseNameOrThrow(name);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({
      code: "validation_failed",
      detail: "The name breaks a naming rule.",
      fieldErrors: [{ path: "/body/name", message: NAME_RULES.invisible }],
    });
    expect(JSON.stringify({ ...(err as DomainError), detail: (err as DomainError).detail })).not.toContain("evil");
  });
});

describe("withNormalisedName", () => {
  it("normalises the name and keeps every other field", () => {
    expect(withNormalisedName({ name: "Cafe\u0301", server: "ghcr.io" })).toEqual({ name: "Café", server: "ghcr.io" });
  });

  it("leaves an input without a name as it is (an update of other fields)", () => {
    const input = { enabled: false };
    expect(withNormalisedName<{ name?: string; enabled: boolean }>(input)).toBe(input);
  });

  it("refuses a bad name", () => {
    expect(() => withNormalisedName({ name: "name " })).toThrow(DomainError);
  });
});
