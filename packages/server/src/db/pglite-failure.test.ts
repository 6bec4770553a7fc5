import { PGlite } from "@electric-sql/pglite";
import { describe, expect, it, vi } from "vitest";
import { classifyDatabaseError } from "./errors.js";
import { DatabaseFailedError, pgliteFailureMessage, stopAtFirstUnrecoverableError } from "./pglite-failure.js";

/** The three methods the guard wraps, as PGlite calls them: errors surface from the async pair. */
function fakeClient(errorOf: (message: Uint8Array) => unknown) {
  const raw = vi.fn((message: Uint8Array) => message);
  const client = {
    execProtocolRawSync: raw,
    async execProtocol(message: Uint8Array) {
      client.execProtocolRawSync(message);
      const err = errorOf(message);
      if (err) throw err;
      return { messages: [], data: new Uint8Array() };
    },
    async execProtocolStream(message: Uint8Array) {
      client.execProtocolRawSync(message);
      const err = errorOf(message);
      if (err) throw err;
      return [];
    },
  };
  return { client, raw };
}

const PANIC = Object.assign(new Error("could not write to file \"pg_wal/xlogtemp.42\": No space left on device"), {
  severity: "PANIC",
  code: "53100",
  routine: "XLogFileInitInternal",
});
const msg = (byte: number) => new Uint8Array([byte]);

describe("stopAtFirstUnrecoverableError", () => {
  it("after a PANIC, never enters the runtime again and reports the failure once", async () => {
    const { client, raw } = fakeClient((m) => (m[0] === 1 ? PANIC : undefined));
    const onFailure = vi.fn();
    const guard = stopAtFirstUnrecoverableError(client as unknown as PGlite, onFailure);

    await expect(client.execProtocolStream(msg(1))).rejects.toBe(PANIC);
    expect(raw).toHaveBeenCalledTimes(1);
    // What PGlite sends next (its `sync`, a ROLLBACK, the next query) is refused without entering it.
    await expect(client.execProtocolStream(msg(2))).rejects.toBeInstanceOf(DatabaseFailedError);
    await expect(client.execProtocol(msg(3))).rejects.toBeInstanceOf(DatabaseFailedError);
    expect(raw).toHaveBeenCalledTimes(1);

    await Promise.resolve();
    expect(onFailure).toHaveBeenCalledTimes(1);
    expect(onFailure).toHaveBeenCalledWith({ severity: "PANIC", sqlstate: "53100", routine: "XLogFileInitInternal" });
    expect(guard.failure()).toEqual({ severity: "PANIC", sqlstate: "53100", routine: "XLogFileInitInternal" });
  });

  it("lets ordinary errors through and keeps the database usable", async () => {
    const error = Object.assign(new Error("could not extend file"), { severity: "ERROR", code: "53100" });
    const { client, raw } = fakeClient((m) => (m[0] === 1 ? error : undefined));
    const onFailure = vi.fn();
    const guard = stopAtFirstUnrecoverableError(client as unknown as PGlite, onFailure);
    await expect(client.execProtocol(msg(1))).rejects.toBe(error);
    await expect(client.execProtocol(msg(2))).resolves.toBeDefined();
    expect(raw).toHaveBeenCalledTimes(2);
    await Promise.resolve();
    expect(onFailure).not.toHaveBeenCalled();
    expect(guard.failure()).toBeUndefined();
  });

  it("treats an exception thrown out of the runtime itself as fatal", async () => {
    const { client, raw } = fakeClient(() => undefined);
    raw.mockImplementationOnce(() => {
      throw new Error("RuntimeError: Aborted()");
    });
    const onFailure = vi.fn();
    stopAtFirstUnrecoverableError(client as unknown as PGlite, onFailure);
    await expect(client.execProtocol(msg(1))).rejects.toThrow("Aborted");
    await expect(client.execProtocol(msg(2))).rejects.toBeInstanceOf(DatabaseFailedError);
    await Promise.resolve();
    expect(onFailure).toHaveBeenCalledWith({ severity: "ABORTED" });
  });

  it("refuses to run unguarded when PGlite no longer has the methods it wraps", () => {
    expect(() => stopAtFirstUnrecoverableError({} as PGlite, () => {})).toThrow(/update src\/db\/pglite-failure.ts/);
  });

  it("leaves a real PGlite working: queries, errors, transactions", async () => {
    const db = await PGlite.create();
    try {
      const onFailure = vi.fn();
      stopAtFirstUnrecoverableError(db, onFailure);
      expect((await db.query<{ n: number }>("select 1 as n")).rows).toEqual([{ n: 1 }]);
      await expect(db.query("select 1/0")).rejects.toMatchObject({ code: "22012" });
      await db.transaction(async (tx) => {
        await tx.query("create table t (n int)");
        await tx.query("insert into t values (1)");
      });
      expect((await db.query<{ n: number }>("select n from t")).rows).toEqual([{ n: 1 }]);
      expect(onFailure).not.toHaveBeenCalled();
    } finally {
      await db.close();
    }
  });
});

describe("DatabaseFailedError", () => {
  it("classifies as a full disk after a disk-full PANIC, as unavailable after any other", () => {
    expect(classifyDatabaseError(new DatabaseFailedError({ severity: "PANIC", sqlstate: "53100" }))).toMatchObject({ kind: "disk_full" });
    expect(classifyDatabaseError(new DatabaseFailedError({ severity: "PANIC", sqlstate: "XX000" }))).toEqual({ kind: "unavailable" });
    expect(classifyDatabaseError(new DatabaseFailedError({ severity: "ABORTED" }))).toEqual({ kind: "unavailable" });
  });
});

describe("pgliteFailureMessage", () => {
  it("starts with 'the disk under <dir> is full' for a disk-full PANIC and names the SQLSTATE, not the message", () => {
    const text = pgliteFailureMessage({ severity: "PANIC", sqlstate: "53100", routine: "XLogFileInitInternal" }, "/nonexistent/modbox", 64 * 1024 * 1024);
    expect(text).toMatch(/^the disk under \/nonexistent\/modbox is full: /);
    expect(text).toContain("PANIC, SQLSTATE 53100, in XLogFileInitInternal");
    expect(text).toContain("at least 64 MiB (MODBOX_MIN_FREE_DISK_MB)");
    expect(text).not.toContain("xlogtemp");
  });

  it("says the database failed, and to restart, for any other failure", () => {
    expect(pgliteFailureMessage({ severity: "FATAL", sqlstate: "XX000" }, "/d", 0)).toMatch(
      /^the embedded database under \/d failed \(FATAL, SQLSTATE XX000\)/,
    );
  });
});
