/**
 * What the registry-rules contract suites share (registries, registry verification, sandbox
 * images, pulls): the real app on one backend with a workspace token and a provisioner token for
 * one workspace, request bodies, and the assertions on refusals.
 */
import { randomBytes } from "node:crypto";
import { APIError, type ModboxClient, type RegistryCreateBasic } from "@modbox/sdk";
import { startTestApp, type TestApp, type TestAppOptions } from "@modbox/testkit/app";
import type { Backend } from "@modbox/testkit/databases";
import { tokenIdOf } from "@modbox/testkit/exchanges";
import { afterAll, beforeAll, expect } from "vitest";

export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export const hex = (bytes = 6) => randomBytes(bytes).toString("hex");
export const ghpToken = () => `ghp_${hex(18)}`;
export const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** A registry body that passes every rule: a GitHub token for ghcr.io under a name no test shares. */
export const registryBody = (overrides: Partial<RegistryCreateBasic> = {}): RegistryCreateBasic => ({
  name: `registry ${hex()}`,
  server: "ghcr.io",
  username: "octocat",
  password: ghpToken(),
  ...overrides,
});

/** The rejection of a call, as the SDK's typed error. */
export async function apiError(call: Promise<unknown>): Promise<APIError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected the call to fail; it answered ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(APIError);
  return outcome.error as APIError;
}

/** Asserts a 422 `validation_failed` naming exactly one field, and that no value comes back. */
export function expectFieldError(err: APIError, path: string, mustNotEcho: string[] = []) {
  expect(err.status).toBe(422);
  expect(err.code).toBe("validation_failed");
  expect(err.problem?.errors).toEqual([{ path, message: expect.any(String) }]);
  const text = JSON.stringify(err.problem);
  for (const value of mustNotEcho) expect(text).not.toContain(value);
}

export interface RulesApp {
  /** The workspace every pull-credentials call is made in (the provisioner is granted it only). */
  readonly WS: string;
  app: TestApp;
  /** Bootstrap token, workspace `WS`. */
  client: ModboxClient;
  /** A provisioner token granted `WS` only. */
  provisioner: ModboxClient;
  provisionerToken: string;
  /** Its `api_tokens.id`, which pull-credential events record. */
  provisionerTokenId: string;
}

/**
 * Starts the app on `backend` (with `options`, e.g. an outbound policy) before the calling
 * describe block's tests and closes it after.
 * The fields are set once the block's first `beforeAll` ran: read them in a later hook or a test.
 */
export function useRulesApp(backend: Backend, options: TestAppOptions = {}): RulesApp {
  const rules = { WS: `ws-rules-${hex()}` } as RulesApp;
  beforeAll(async () => {
    rules.app = await startTestApp(backend, options);
    rules.client = rules.app.client(rules.WS);
    rules.provisionerToken = await rules.app.createToken({ workspaceIds: [rules.WS], scope: "provisioner" });
    rules.provisioner = rules.app.client(rules.WS, rules.provisionerToken);
    rules.provisionerTokenId = await tokenIdOf(rules.app, rules.provisionerToken);
  });
  afterAll(() => rules.app?.close());
  return rules;
}
