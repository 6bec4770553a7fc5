import { APIPromise, type APIResponse, type VersionedResponse } from "./api-promise.js";
import { APIError, ModboxError, TimeoutError } from "./errors.js";

/** What every openapi-fetch call resolves to: data on 2xx, the parsed error body otherwise. */
export interface FetchResult<Data> {
  data?: Data;
  error?: unknown;
  response: Response;
}

/**
 * Turns an openapi-fetch result into its data, or throws the `APIError` subclass of its status.
 * The resources use it so that callers get data or a typed error, never a `{ data, error }` pair.
 */
export async function unwrap<Data>(call: Promise<FetchResult<Data>>): Promise<Data> {
  return (await settle(call, false)).data;
}

/** A call's data (or the `APIError` of its status) as an `APIPromise`, response at hand. */
export function respond<Data>(call: Promise<FetchResult<Data>>): APIPromise<Data> {
  return new APIPromise(settle(call, false).then(withRequestId));
}

/** As `respond`, for a call that answers one object: `.withResponse()` also has its `ETag`. */
export function respondVersioned<Data>(
  call: Promise<FetchResult<Data>>,
): APIPromise<Data, VersionedResponse<Data>> {
  return new APIPromise(settle(call, false).then(withETag));
}

/**
 * As `respondVersioned`, for a GET sent with `If-None-Match`: a `304` resolves `null` (the
 * caller's copy is current) and still carries the `ETag`.
 */
export function respondUnlessNotModified<Data>(
  call: Promise<FetchResult<Data>>,
): APIPromise<Data | null, VersionedResponse<Data | null>> {
  return new APIPromise(settle(call, true).then(withETag));
}

// A 304 is a success only when the call asked for one (ifNoneMatch): a 304 to a plain get,
// e.g. an If-None-Match sent through `headers`, would otherwise resolve `null` where the types
// promise an object, so it throws like any other status outside 2xx.
async function settle<Data>(
  call: Promise<FetchResult<Data>>,
  notModifiedIsNull: true,
): Promise<{ data: Data | null; response: Response }>;
async function settle<Data>(
  call: Promise<FetchResult<Data>>,
  notModifiedIsNull: false,
): Promise<{ data: Data; response: Response }>;
async function settle<Data>(
  call: Promise<FetchResult<Data>>,
  notModifiedIsNull: boolean,
): Promise<{ data: Data | null; response: Response }> {
  const { data, error, response } = await call.catch(rethrow);
  if (notModifiedIsNull && response.status === 304) return { data: null, response };
  if (!response.ok) throw APIError.from(response, error);
  return { data: data as Data, response };
}

function withRequestId<Data>({ data, response }: { data: Data; response: Response }): APIResponse<Data> {
  return { data, response, requestId: response.headers.get("x-request-id") ?? undefined };
}

function withETag<Data>(settled: { data: Data; response: Response }): VersionedResponse<Data> {
  return { ...withRequestId(settled), etag: settled.response.headers.get("etag") ?? undefined };
}

// The per-attempt timeout also covers reading the body, which openapi-fetch does after the
// transport returned; a timeout there surfaces as a DOMException and is renamed here.
function rethrow(error: unknown): never {
  if (error instanceof ModboxError) throw error;
  if (error instanceof Error && error.name === "TimeoutError") {
    throw new TimeoutError("Request timed out while reading the response.", { cause: error });
  }
  throw error;
}
