import { describe, expect, it } from "vitest";
import { postgresTarget } from "../db/client.js";
import { describePostgresStartFailure } from "./database-failure.js";

const target = { where: "db.internal:5432", database: "modbox", user: "modbox", password: "hunter2-secret" };

/** drizzle's wrapper: a message that lists the query's parameters, the driver's error as `cause`. */
function drizzleWrapped(cause: object): Error {
  return Object.assign(new Error(`Failed query: select pg_advisory_lock(7321556090485023617)\nparams: hunter2-secret`), {
    query: "select pg_advisory_lock(7321556090485023617)",
    params: ["hunter2-secret"],
    cause,
  });
}

/** The fields postgres.js' PostgresError carries (a copy of the server's ErrorResponse). */
function postgresError(code: string, routine: string, message: string): Error {
  return Object.assign(new Error(message), { name: "PostgresError", severity: "FATAL", code, routine });
}

describe("describePostgresStartFailure", () => {
  it("unwraps drizzle's error and never copies a message", () => {
    const line = describePostgresStartFailure(
      drizzleWrapped(postgresError("28P01", "auth_failed", 'password authentication failed for user "modbox"')),
      target,
      5,
    );
    expect(line).toBe(
      'cannot use PostgreSQL at db.internal:5432, database "modbox": authentication failed for user "modbox" (SQLSTATE 28P01: wrong password). Check DATABASE_URL.',
    );
    expect(line).not.toContain("hunter2");
    expect(line).not.toContain("Failed query");
  });

  it("tells the refusals of SQLSTATE 28000 apart by the routine that raised them", () => {
    expect(describePostgresStartFailure(postgresError("28000", "ClientAuthentication", "no pg_hba.conf entry"), target, 5)).toContain(
      'authentication failed for user "modbox": no pg_hba.conf entry of the server lets it connect to database "modbox" from this host, or not without TLS (SQLSTATE 28000)',
    );
    expect(describePostgresStartFailure(postgresError("28000", "SomethingElse", "x"), target, 5)).toContain(
      'authentication failed for user "modbox" (SQLSTATE 28000). Check DATABASE_URL.',
    );
  });

  it("finds a refused connection inside Node's AggregateError (localhost on IPv6 and IPv4)", () => {
    const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}:5432`), { code: "ECONNREFUSED" });
    const aggregate = new AggregateError([refused("::1"), refused("127.0.0.1")]);
    expect(describePostgresStartFailure(drizzleWrapped(aggregate), { ...target, where: "localhost:5432" }, 5)).toBe(
      'cannot use PostgreSQL at localhost:5432, database "modbox": connection refused (ECONNREFUSED). Is PostgreSQL running, and listening on that host and port? Check DATABASE_URL.',
    );
  });

  it.each([
    ["ETIMEDOUT", "no answer within 7 s (ETIMEDOUT)"],
    ["EAI_AGAIN", "the host name could not be resolved (EAI_AGAIN). DNS did not answer"],
    ["EHOSTUNREACH", "no route to the host (EHOSTUNREACH)"],
    ["ECONNRESET", "the connection was closed before PostgreSQL answered (ECONNRESET). Is what listens on that port PostgreSQL?"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "the TLS handshake failed (DEPTH_ZERO_SELF_SIGNED_CERT)"],
    ["57P03", "the server is starting up, shutting down or in recovery (SQLSTATE 57P03)"],
    ["53300", "the server has no connection slot left (SQLSTATE 53300)"],
    ["42501", 'user "modbox" lacks a privilege the migrations need (SQLSTATE 42501)'],
    ["42P07", "PostgreSQL refused a start-up statement (SQLSTATE 42P07)"],
    ["SOMETHING_NEW", "the connection failed (SOMETHING_NEW)"],
  ])("%s", (code, words) => {
    const line = describePostgresStartFailure(drizzleWrapped(Object.assign(new Error("whatever"), { code })), target, 7);
    expect(line).toContain(`cannot use PostgreSQL at db.internal:5432, database "modbox": ${words}`);
    expect(line).not.toContain("whatever");
  });

  it("is undefined for an error that is not the database's (main.ts logs it as before)", () => {
    expect(describePostgresStartFailure(new Error("a bug"), target, 5)).toBeUndefined();
  });

  it("never prints the password, even where a malformed URL put it into the host or the user", () => {
    const line = describePostgresStartFailure(
      Object.assign(new Error("x"), { code: "ENOTFOUND" }),
      { where: "hunter2-secret.db.internal:5432", database: "modbox", user: "hunter2-secret", password: "hunter2-secret" },
      5,
    );
    expect(line).toBe('cannot use PostgreSQL at ***.db.internal:5432, database "modbox": the host name does not resolve (ENOTFOUND). Check DATABASE_URL.');
  });

  it("says so when DATABASE_URL cannot be parsed, without echoing it", () => {
    const line = describePostgresStartFailure(Object.assign(new TypeError("Invalid URL"), { code: "ERR_INVALID_URL", input: "postgres://u:hunter2@h:99999/d" }), undefined, 5);
    expect(line).toMatch(/^cannot use PostgreSQL: DATABASE_URL cannot be parsed as a URL \(ERR_INVALID_URL\)\./);
    expect(line).not.toContain("hunter2");
  });
});

describe("postgresTarget reads DATABASE_URL as postgres.js does", () => {
  it("host, port, database, user", () => {
    expect(postgresTarget("postgres://modbox:pw@db.internal:6543/registries")).toEqual({
      where: "db.internal:6543",
      database: "registries",
      user: "modbox",
      password: "pw",
    });
  });

  it("the default port, a percent-encoded password, and several hosts", () => {
    expect(postgresTarget("postgresql://modbox:p%40ss@db.internal/modbox")).toMatchObject({ where: "db.internal:5432", password: "p@ss" });
    expect(postgresTarget("postgres://modbox@db1:5432,db2:5433/modbox")).toMatchObject({ where: "db1:5432,db2:5433" });
  });

  it("undefined when postgres.js cannot parse it", () => {
    expect(postgresTarget("postgres://modbox:pw@127.0.0.1:99999/modbox")).toBeUndefined();
  });
});
