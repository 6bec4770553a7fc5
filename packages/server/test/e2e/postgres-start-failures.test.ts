/**
 * A start on PostgreSQL that cannot use the database, as an operator meets it: the real server
 * process, one line on stderr naming host:port, the database and the cause, exit 1, and the
 * password of DATABASE_URL nowhere in what it printed.
 *
 * The throwaway PostgreSQL of the test run trusts every local connection (initdb --auth=trust, see
 * @modbox/testkit/postgres), so a wrong password cannot fail there. Two authentication failures
 * are shown instead: a role that does not exist, refused by that real server (SQLSTATE 28000), and
 * a wrong password (SQLSTATE 28P01) refused by a stand-in that speaks PostgreSQL's wire protocol as
 * far as its authentication exchange: it asks for an MD5 password and answers the ErrorResponse a
 * real server sends, so the real driver in the real process raises its real error.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { findFreePort } from "@modbox/testkit/ports";
import { killStartedProcesses, runToExit, type Exited } from "@modbox/testkit/processes";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";

const postgresAdminUrl = inject("postgresUrl");

const KEYS = `k1:${randomBytes(32).toString("base64")}`;

/** A password the test can look for in everything the process printed. */
function canaryPassword(): string {
  return `pw-canary-${randomBytes(8).toString("hex")}`;
}

async function startWith(databaseUrl: string, env: Record<string, string> = {}): Promise<Exited & { ms: number }> {
  const started = Date.now();
  const exited = await runToExit("server", [], { DATABASE_URL: databaseUrl, MODBOX_ENCRYPTION_KEYS: KEYS, ...env });
  return { ...exited, ms: Date.now() - started };
}

/** Exit 1, exactly one line on stderr (returned), nothing on stdout, and the password nowhere. */
function expectOneLine(exited: Exited, password: string): string {
  expect(exited.code).toBe(1);
  expect(exited.stdout).toBe("");
  const lines = exited.stderr.split("\n").filter(Boolean);
  expect(lines, exited.stderr).toHaveLength(1);
  expect(`${exited.stdout}${exited.stderr}`).not.toContain(password);
  return lines[0]!;
}

/** Listens on 127.0.0.1 and hands every connection to `onConnection`; closes them all in `close()`. */
async function tcpServer(onConnection: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A backend message: type byte, int32 length (itself included), body. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/**
 * PostgreSQL's side of a password authentication that fails, as PostgreSQL 15 sends it: after the
 * StartupMessage, AuthenticationMD5Password (R, 5, salt); after the PasswordMessage, the
 * ErrorResponse with SQLSTATE 28P01 (routine auth_failed), then the connection is closed.
 */
function refusePassword(socket: Socket): void {
  let buffered = Buffer.alloc(0);
  let user: string | undefined;
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (user === undefined) {
      // StartupMessage: int32 length, int32 protocol version, then name\0value\0 pairs.
      if (buffered.length < 4 || buffered.length < buffered.readInt32BE(0)) return;
      user = /(?:^|\0)user\0([^\0]*)\0/.exec(buffered.subarray(8, buffered.readInt32BE(0)).toString("utf8"))?.[1] ?? "";
      buffered = buffered.subarray(buffered.readInt32BE(0));
      const md5 = Buffer.alloc(8);
      md5.writeInt32BE(5, 0);
      randomBytes(4).copy(md5, 4);
      socket.write(message("R", md5));
      return;
    }
    // PasswordMessage: 'p', int32 length, the hashed password.
    if (buffered.length < 5 || buffered.length < 1 + buffered.readInt32BE(1)) return;
    const fields = [
      ["S", "FATAL"],
      ["V", "FATAL"],
      ["C", "28P01"],
      ["M", `password authentication failed for user "${user}"`],
      ["F", "auth.c"],
      ["L", "330"],
      ["R", "auth_failed"],
    ];
    socket.end(message("E", Buffer.from(`${fields.map(([k, v]) => `${k}${v}\0`).join("")}\0`, "utf8")));
  });
}

afterEach(async () => {
  await killStartedProcesses();
});

// Each test starts the real process (node, tsx, the server's modules): seconds, many more on a busy machine.
describe("a start on PostgreSQL that cannot use the database says where and why, in one line", { timeout: 120_000 }, () => {
  let silent: Awaited<ReturnType<typeof tcpServer>>;
  let refusing: Awaited<ReturnType<typeof tcpServer>>;
  beforeAll(async () => {
    // Accepts the connection and never says a word: a PostgreSQL that hangs, or a firewall's
    // half-open port.
    silent = await tcpServer(() => {});
    refusing = await tcpServer(refusePassword);
  });
  afterAll(async () => {
    await silent?.close();
    await refusing?.close();
  });

  it("connection refused (a closed port)", async () => {
    const password = canaryPassword();
    const port = await findFreePort();
    const line = expectOneLine(await startWith(`postgres://modbox:${password}@127.0.0.1:${port}/modbox`), password);
    expect(line).toBe(
      `modbox: cannot use PostgreSQL at 127.0.0.1:${port}, database "modbox": connection refused (ECONNREFUSED). ` +
        "Is PostgreSQL running, and listening on that host and port? Check DATABASE_URL.",
    );
  });

  it("a host name that does not resolve", async () => {
    const password = canaryPassword();
    const line = expectOneLine(await startWith(`postgres://modbox:${password}@nonexistent.invalid:5432/modbox`), password);
    // ENOTFOUND, or EAI_AGAIN on a machine whose resolver cannot be reached at all.
    expect(line).toMatch(
      /^modbox: cannot use PostgreSQL at nonexistent\.invalid:5432, database "modbox": the host name (does not resolve \(ENOTFOUND\)|could not be resolved \(EAI_AGAIN\)).* Check DATABASE_URL\.$/,
    );
  });

  it("no answer within MODBOX_DB_CONNECT_TIMEOUT_SECONDS (a socket that accepts and stays silent)", async () => {
    const password = canaryPassword();
    const exited = await startWith(`postgres://modbox:${password}@127.0.0.1:${silent.port}/modbox`, { MODBOX_DB_CONNECT_TIMEOUT_SECONDS: "1" });
    const line = expectOneLine(exited, password);
    expect(line).toBe(
      `modbox: cannot use PostgreSQL at 127.0.0.1:${silent.port}, database "modbox": no answer within 1 s (CONNECT_TIMEOUT). ` +
        "A firewall may be dropping the packets, or what listens there is not answering; MODBOX_DB_CONNECT_TIMEOUT_SECONDS sets the wait. Check DATABASE_URL.",
    );
    // The wait is the configured one, not postgres.js' default of 30 s.
    expect(exited.ms).toBeLessThan(20_000);
  });

  it("a wrong password (SQLSTATE 28P01, from a stand-in speaking the wire protocol)", async () => {
    const password = canaryPassword();
    const line = expectOneLine(await startWith(`postgres://modbox:${password}@127.0.0.1:${refusing.port}/modbox`), password);
    expect(line).toBe(
      `modbox: cannot use PostgreSQL at 127.0.0.1:${refusing.port}, database "modbox": authentication failed for user "modbox" (SQLSTATE 28P01: wrong password). Check DATABASE_URL.`,
    );
  });

  it("a DATABASE_URL the driver cannot parse", async () => {
    const password = canaryPassword();
    const line = expectOneLine(await startWith(`postgres://modbox:${password}@127.0.0.1:99999/modbox`), password);
    expect(line).toMatch(/^modbox: cannot use PostgreSQL: DATABASE_URL cannot be parsed as a URL \(ERR_INVALID_URL\)\./);
  });

  describe.skipIf(!postgresAdminUrl)("on the test run's real PostgreSQL", () => {
    it("a database that does not exist (SQLSTATE 3D000)", async () => {
      const password = canaryPassword();
      const url = new URL(postgresAdminUrl!);
      const missing = `modbox_missing_${randomBytes(6).toString("hex")}`;
      url.pathname = `/${missing}`;
      url.password = password;
      const line = expectOneLine(await startWith(url.toString()), password);
      expect(line).toBe(
        `modbox: cannot use PostgreSQL at ${url.host}, database "${missing}": database "${missing}" does not exist (SQLSTATE 3D000). ` +
          "Create it (createdb, or CREATE DATABASE) or name an existing one. Check DATABASE_URL.",
      );
    });

    it("a role that does not exist (SQLSTATE 28000)", async () => {
      const password = canaryPassword();
      const url = new URL(postgresAdminUrl!);
      url.username = "modbox_no_such_role";
      url.password = password;
      const line = expectOneLine(await startWith(url.toString()), password);
      expect(line).toBe(
        `modbox: cannot use PostgreSQL at ${url.host}, database "postgres": authentication failed for user "modbox_no_such_role": ` +
          "the role does not exist or may not log in (SQLSTATE 28000). Check DATABASE_URL.",
      );
    });
  });
});
