import type { paths } from "./generated/openapi.js";

// The contract marks `X-Workspace-Id` as a required header on every workspace operation, which
// is right for curl users. The SDK client sends it on every call from its workspace binding, so
// `client.raw` would be needlessly awkward if each call had to repeat it. These types keep the
// header allowed (a call can still override it) but make it optional; everything else is
// `paths` unchanged, so unknown paths, methods, params and bodies are still type errors.

type WorkspaceHeader = "X-Workspace-Id";

type OptionalWorkspace<Header> = Header extends Record<WorkspaceHeader, unknown>
  ? Omit<Header, WorkspaceHeader> & Partial<Pick<Header, WorkspaceHeader>>
  : Header;

type ScopedParameters<Params> = Params extends { header: infer Header }
  ? Omit<Params, "header"> & { header?: OptionalWorkspace<Header> }
  : Params;

type ScopedOperation<Operation> = Operation extends { parameters: infer Params }
  ? Omit<Operation, "parameters"> & { parameters: ScopedParameters<Params> }
  : Operation;

/** `paths` as seen through a client bound to a workspace: `X-Workspace-Id` is optional. */
export type ScopedPaths = {
  [Path in keyof paths]: {
    [Method in keyof paths[Path]]: ScopedOperation<paths[Path][Method]>;
  };
};
