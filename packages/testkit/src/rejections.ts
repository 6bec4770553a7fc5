/**
 * The error a promise must reject with, checked for its class and handed back for closer
 * assertions (code, status, extensions). A promise that resolves fails the test.
 */
import { expect } from "vitest";

export async function rejectionOf<E extends Error>(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => E): Promise<E> {
  const error = await promise.then(
    () => expect.unreachable(`expected a rejection with ${errorClass.name}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(errorClass);
  return error as E;
}
