/** What `.withResponse()` resolves to: the call's data, and the response it came in. */
export interface APIResponse<Data> {
  /** What awaiting the call itself resolves to. */
  readonly data: Data;
  /** The HTTP response: status and every header. Its body has been read already, into `data`. */
  readonly response: Response;
  /** The request id to quote to support (`X-Request-Id`); `undefined` if the server sent none. */
  readonly requestId: string | undefined;
}

/** The `APIResponse` of a call that answers one versioned object (`get`, `create`, `update`). */
export interface VersionedResponse<Data> extends APIResponse<Data> {
  /**
   * The object's `ETag`, e.g. `"3.k2x1c9"`. Pass it as `ifMatch` to update or delete only that
   * version, or as `ifNoneMatch` to get the object only if it changed. `undefined` only if the
   * server sent none: one older than this SDK's contract, or a browser that is not allowed to
   * read the header (cross-origin, without `Access-Control-Expose-Headers: ETag`).
   */
  readonly etag: string | undefined;
}

/**
 * What a resource method returns: await it for the data, as with any promise, or call
 * `.withResponse()` for the data together with the response, its request id and, for a single
 * object, its `ETag`. The request is sent at once, and only once however the result is read.
 *
 * @example
 * ```ts
 * const registry = await client.registries.get(id);
 * const { data, etag, requestId, response } = await client.registries.get(id).withResponse();
 * ```
 */
export class APIPromise<Data, Result extends APIResponse<Data> = APIResponse<Data>>
  implements Promise<Data>
{
  readonly #result: Promise<Result>;

  constructor(result: Promise<Result>) {
    this.#result = result;
  }

  /**
   * The data together with the response it came in. Rejects with the same error as awaiting
   * the call would.
   *
   * @example
   * ```ts
   * const { data: registry, etag } = await client.registries.get(id).withResponse();
   * await client.registries.update(registry.id, { enabled: false }, { ifMatch: etag });
   * ```
   */
  withResponse(): Promise<Result> {
    return this.#result;
  }

  /** A full `Promise`, so it fits wherever one is expected (`Promise.all`, `expect().rejects`, …). */
  get [Symbol.toStringTag](): string {
    return "APIPromise";
  }

  // `reason: any`, as in lib.es5's Promise, so handlers written for a Promise fit unchanged.
  then<Fulfilled = Data, Rejected = never>(
    onFulfilled?: ((data: Data) => Fulfilled | PromiseLike<Fulfilled>) | null,
    onRejected?: ((reason: any) => Rejected | PromiseLike<Rejected>) | null,
  ): Promise<Fulfilled | Rejected> {
    return this.#result.then((result) => result.data).then(onFulfilled, onRejected);
  }

  catch<Rejected = never>(
    onRejected?: ((reason: any) => Rejected | PromiseLike<Rejected>) | null,
  ): Promise<Data | Rejected> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<Data> {
    return this.then().finally(onFinally);
  }
}
