import type { components } from "@modbox/sdk/openapi";

/** What a DomainError may carry beyond its code and detail. */
export interface DomainErrorOptions {
  /** Which fields of the request are wrong and by which rule (never their values). */
  readonly fieldErrors?: ReadonlyArray<{ path: string; message: string }>;
  /** RFC 9457 extension members, e.g. `linked_image_ids` (never a secret, never a submitted value). */
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** Overrides the table's status (registry_host_mismatch is 422 at link time, 409 at pull time). */
  readonly status?: number;
}

/**
 * Errors a service raises on purpose. Each carries a stable `code` from the table in
 * `http/problem-table.ts`, which decides the HTTP status and title. `detail` is written for the
 * API user and must never contain a submitted value.
 */
export class DomainError<Code extends ProblemCode = ProblemCode> extends Error {
  override name = "DomainError";
  readonly fieldErrors: DomainErrorOptions["fieldErrors"];
  readonly extensions: DomainErrorOptions["extensions"];
  readonly status: number | undefined;
  constructor(
    /** Narrowed to the literal when a caller needs it (an access denial is audited by its code). */
    readonly code: Code,
    readonly detail: string,
    options: DomainErrorOptions = {},
  ) {
    super(detail);
    this.fieldErrors = options.fieldErrors;
    this.extensions = options.extensions;
    this.status = options.status;
  }
}

/** The stable problem codes: the enum of `Problem.code` in openapi.yaml, the one place they are listed. */
export type ProblemCode = components["schemas"]["Problem"]["code"];
