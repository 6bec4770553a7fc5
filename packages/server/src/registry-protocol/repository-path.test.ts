import { describe, expect, it } from "vitest";
import { checkRepositoryPath, isUnderPrefix, PATH_REASONS } from "./repository-path.js";

describe("checkRepositoryPath", () => {
  it.each(["acme", "acme/team", "a.b/c_d/e__f/g-h/i---j", "0/1/2"])("%s is a repository path", (path) => {
    expect(checkRepositoryPath(path)).toBeUndefined();
  });

  it.each([
    ["", PATH_REASONS.emptyComponent],
    ["acme/", PATH_REASONS.emptyComponent],
    ["/acme", PATH_REASONS.emptyComponent],
    ["acme//team", PATH_REASONS.emptyComponent],
    ["Acme", PATH_REASONS.lowercase],
    ["acme/Team", PATH_REASONS.lowercase],
    ["-acme", PATH_REASONS.component],
    ["acme.", PATH_REASONS.component],
    ["a..b", PATH_REASONS.component],
    ["a___b", PATH_REASONS.component],
    ["acme:v1", PATH_REASONS.component],
  ])("%j is refused: %s", (path, reason) => {
    expect(checkRepositoryPath(path)).toBe(reason);
  });

  it("answers at once on a long invalid component (no catastrophic backtracking)", () => {
    expect(checkRepositoryPath(`${"a-".repeat(5_000)}!`)).toBe(PATH_REASONS.component);
  });
});

describe("isUnderPrefix: a path-segment boundary", () => {
  it.each([
    ["acme/app", "acme", true],
    ["acme", "acme", true],
    ["acme/team/app", "acme/team", true],
    ["anything/at/all", "", true],
    ["acmecorp/app", "acme", false],
    ["acme-corp/app", "acme", false],
    ["acme/teamwork", "acme/team", false],
    ["acme", "acme/team", false],
    ["other/acme", "acme", false],
  ])("%s under %j: %s", (repository, prefix, under) => {
    expect(isUnderPrefix(repository, prefix)).toBe(under);
  });
});
