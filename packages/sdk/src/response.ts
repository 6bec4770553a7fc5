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
  const { data, error, response } = await call.catch(rethrow);
  if (!response.ok) throw APIError.from(response, error);
  return data as Data;
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
