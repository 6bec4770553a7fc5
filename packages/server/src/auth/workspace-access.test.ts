import { describe, expect, it } from "vitest";
import type { TokenScope } from "../db/records.js";
import { DomainError } from "../errors.js";
import type { Principal } from "./authenticator.js";
import { insufficientScope, scopeAllows, workspaceAccessDenial } from "./workspace-access.js";

function principal(scope: TokenScope, workspaceIds: string[] | null): Principal {
  return { tokenId: "t1", scope, workspaceIds: workspaceIds === null ? null : new Set(workspaceIds) };
}

describe("scopeAllows", () => {
  it.each<[TokenScope, TokenScope, boolean]>([
    ["workspace", "workspace", true],
    ["workspace", "provisioner", false],
    ["workspace", "admin", false],
    ["provisioner", "workspace", false],
    ["provisioner", "provisioner", true],
    ["provisioner", "admin", false],
    // admin includes workspace, but not provisioner: credentials go to provisioner tokens only.
    ["admin", "workspace", true],
    ["admin", "provisioner", false],
    ["admin", "admin", true],
  ])("a %s token may do what needs %s: %s", (has, needs, allowed) => {
    expect(scopeAllows(has, needs)).toBe(allowed);
  });
});

describe("insufficientScope", () => {
  it.each<[TokenScope, TokenScope, string]>([
    ["provisioner", "workspace", "This operation needs a workspace (or admin) token; this token's scope is provisioner."],
    ["admin", "provisioner", "This operation needs a provisioner token; this token's scope is admin."],
    ["workspace", "admin", "This operation needs an admin token; this token's scope is workspace."],
  ])("a %s token where %s is needed: names both", (has, needs, detail) => {
    const error = insufficientScope(principal(has, null), needs);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe("insufficient_scope");
    expect(error.detail).toBe(detail);
  });
});

describe("workspaceAccessDenial", () => {
  it("lets a token act in a workspace it is granted, with a scope it holds", () => {
    expect(workspaceAccessDenial(principal("workspace", ["ws-a", "ws-b"]), "ws-b", "workspace")).toBeNull();
    expect(workspaceAccessDenial(principal("provisioner", ["ws-a"]), "ws-a", "provisioner")).toBeNull();
  });

  it("lets a token granted every workspace act in any of them", () => {
    expect(workspaceAccessDenial(principal("admin", null), "ws-z", "workspace")).toBeNull();
    expect(workspaceAccessDenial(principal("workspace", null), "ws-z", "workspace")).toBeNull();
  });

  it("refuses a workspace the token is not granted", () => {
    const denial = workspaceAccessDenial(principal("workspace", ["ws-a"]), "ws-b", "workspace");
    expect(denial).toBeInstanceOf(DomainError);
    expect(denial).toMatchObject({ code: "workspace_forbidden", detail: "This token is not granted the requested workspace." });
  });

  it("refuses a scope the token does not hold before looking at its workspaces", () => {
    const denial = workspaceAccessDenial(principal("workspace", ["ws-a"]), "ws-a", "provisioner");
    expect(denial).toMatchObject({
      code: "insufficient_scope",
      detail: "This operation needs a provisioner token; this token's scope is workspace.",
    });
    expect(workspaceAccessDenial(principal("admin", null), "ws-a", "provisioner")).toMatchObject({ code: "insufficient_scope" });
  });
});
