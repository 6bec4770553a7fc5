import { afterEach, describe, expect, it, vi } from "vitest";
import { DomainError } from "../errors.js";
import { afterLostRace, assertPrecondition, concurrentModification, satisfies } from "./preconditions.js";

describe("If-Match preconditions", () => {
  it("no condition, and `*`, accept any current version", () => {
    expect(satisfies(undefined, 7)).toBe(true);
    expect(satisfies("any", 7)).toBe(true);
  });

  it("a list of versions accepts only the versions it names", () => {
    expect(satisfies([3, 7], 7)).toBe(true);
    expect(satisfies([3, 7], 5)).toBe(false);
    expect(satisfies([], 1)).toBe(false);
  });

  it("`*` passes the assertion, whatever the version", () => {
    expect(() => assertPrecondition("any", 42, "registry")).not.toThrow();
  });

  it("a version the caller did not name is 412 precondition_failed, saying what changed and its version now", () => {
    expect(() => assertPrecondition([1], 3, "registry")).toThrow(
      expect.objectContaining({
        code: "precondition_failed",
        detail: "The registry changed since the version in If-Match (it is now at version 3); read it again, then retry.",
      }),
    );
    expect(() => assertPrecondition([1], 3, "registry")).toThrow(DomainError);
  });
});

describe("concurrent modification", () => {
  it("is a 409 concurrent_modification telling the client to read again and retry", () => {
    const err = concurrentModification("sandbox image");

    expect(err).toBeInstanceOf(DomainError);
    expect([err.code, err.detail]).toEqual([
      "concurrent_modification",
      "The sandbox image kept changing while this request was applied; read it again, then retry.",
    ]);
  });
});

describe("backoff after a lost compare-and-set", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Whether the wait has ended once the fake clock has moved `ms` on. */
  async function endedAfter(wait: Promise<void>, ms: number): Promise<boolean> {
    let ended = false;
    void wait.then(() => (ended = true));
    await vi.advanceTimersByTimeAsync(ms);
    return ended;
  }

  it("waits the random share of 2^attempt ms (full jitter)", async () => {
    vi.useFakeTimers();
    const wait = afterLostRace(3, () => 0.5);

    expect(wait).toBeInstanceOf(Promise);
    expect(await endedAfter(wait, 3)).toBe(false);
    expect(await endedAfter(wait, 1)).toBe(true);
  });

  it("caps the step at 250 ms however many races were lost", async () => {
    vi.useFakeTimers();
    const wait = afterLostRace(10, () => 1);

    expect(await endedAfter(wait, 249)).toBe(false);
    expect(await endedAfter(wait, 1)).toBe(true);
  });
});
