import { describe, expect, it } from "vitest";
import { closestName, editDistance } from "./closest-name.js";

const REGISTRY = ["name", "server", "username", "password", "email", "enabled", "ca_certificate"];
const IMAGE = ["name", "image", "tag", "registry_id", "description", "enabled", "is_default", "memory_mb", "ttl_seconds", "readiness_port"];

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["abc", "", 3],
    ["", "abc", 3],
    ["username", "username", 0],
    ["usrname", "username", 1],
    ["emial", "email", 1],
    ["kitten", "sitting", 3],
    ["ca", "abc", 3],
  ])("%j → %j is %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe("closestName", () => {
  it.each([
    ["usrname", REGISTRY, "username"],
    ["user_name", REGISTRY, "username"],
    ["Username", REGISTRY, "username"],
    ["passwrod", REGISTRY, "password"],
    ["emial", REGISTRY, "email"],
    ["caCertificate", REGISTRY, "ca_certificate"],
    ["registryId", IMAGE, "registry_id"],
    ["isDefault", IMAGE, "is_default"],
    ["memory", IMAGE, "memory_mb"],
    ["Limit", ["limit", "cursor", "enabled", "server"], "limit"],
  ])("%j among the known names → %j", (typed, known, expected) => {
    expect(closestName(typed, known)).toBe(expected);
  });

  it.each([
    ["id", REGISTRY],
    ["extra", REGISTRY],
    ["version", REGISTRY],
    ["workspace_id", REGISTRY],
    ["password_ciphertext", REGISTRY],
    ["created_at", IMAGE],
    ["reference", IMAGE],
    ["x", ["y"]],
  ])("%j is too far from every known name: no guess", (typed, known) => {
    expect(closestName(typed, known)).toBeUndefined();
  });

  it("prefers the nearest name, then the first one listed", () => {
    expect(closestName("nane", ["image", "name"])).toBe("name");
    expect(closestName("tagg", ["tags", "tag"])).toBe("tags");
    expect(closestName("nane", ["nano", "name"])).toBe("nano");
  });

  it("never suggests a name it would have to rewrite whole", () => {
    // One edit, within the limit, but as many as the known name has characters.
    expect(closestName("xy", ["x"])).toBeUndefined();
    expect(closestName("x", ["xy"])).toBeUndefined();
  });

  it("folds case letter by letter, never expanding one (ß is not SS)", () => {
    expect(closestName("ß", ["ss"])).toBeUndefined();
    expect(closestName("USER_NAME", ["username"])).toBe("username");
  });

  it("answers at once for a huge typed name", () => {
    const started = performance.now();
    expect(closestName("u".repeat(60_000), REGISTRY)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(50);
  });

  it("has nothing to suggest from nothing", () => {
    expect(closestName("username", [])).toBeUndefined();
  });
});
