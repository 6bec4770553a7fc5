import type { Request } from "express";
import { describe, expect, it } from "vitest";
import { workspaceOf } from "./request-context.js";

describe("workspaceOf", () => {
  it("is the workspace requireWorkspace granted", () => {
    expect(workspaceOf({ workspaceId: "ws-1" } as Request)).toBe("ws-1");
  });

  it.each([undefined, ""])("refuses a route mounted without requireWorkspace (%j), saying so", (workspaceId) => {
    expect(() => workspaceOf({ workspaceId } as Request)).toThrow(new Error("workspaceOf() called on a route without requireWorkspace"));
  });
});
