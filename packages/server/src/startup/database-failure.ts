/**
 * One line for the operator when a start on PostgreSQL fails in the database: where (host:port,
 * database), and why in words (refused, no answer, unresolvable host, authentication, no such
 * database, …), with the code it was told by. Never the password, never a driver's message (a
 * query error's lists bound values): only codes and fields that name no value, and the parts of
 * DATABASE_URL that are not secret.
 */
import type { PostgresTarget } from "../db/client.js";
import { findCoded } from "../db/errors.js";

const SQLSTATE = /^[0-9A-Z]{5}$/;

interface Cause {
  /** What happened, with the code it was told by: "connection refused (ECONNREFUSED)". */
  text: string;
  /** What to look at, as a sentence (no final full stop). */
  hint?: string;
  /** The cause is most likely a wrong DATABASE_URL: the line ends with "Check DATABASE_URL." */
  checkUrl: boolean;
}

/**
 * The line for a start that failed on PostgreSQL, or undefined when `err` is not a database or
 * connection error (the caller then logs it as before).
 *
 * @param target - what DATABASE_URL points at (db/client.ts `postgresTarget`); undefined when
 *   postgres.js cannot parse it.
 */
export function describePostgresStartFailure(
  err: unknown,
  target: PostgresTarget | undefined,
  connectTimeoutSeconds: number,
): string | undefined {
  const found = findCoded(err);
  if (!found) return undefined;
  if (!target || found.code === "ERR_INVALID_URL") {
    return (
      "cannot use PostgreSQL: DATABASE_URL cannot be parsed as a URL (ERR_INVALID_URL). " +
      "Check its port (1-65535) and percent-encode reserved characters (@ : / ? # %) in the user name and password."
    );
  }
  // A value that holds the password (a URL typed without its @, say) is not printed as it is.
  const hide = (value: string) => (target.password !== "" ? value.split(target.password).join("***") : value);
  const user = `"${hide(target.user)}"`;
  const database = `"${hide(target.database)}"`;
  const cause = causeOf(found.code, found.source, { user, database, connectTimeoutSeconds });
  return [
    `cannot use PostgreSQL at ${hide(target.where)}, database ${database}: ${cause.text}.`,
    ...(cause.hint ? [/[.?]$/.test(cause.hint) ? cause.hint : `${cause.hint}.`] : []),
    ...(cause.checkUrl ? ["Check DATABASE_URL."] : []),
  ].join(" ");
}

function causeOf(code: string, source: object, names: { user: string; database: string; connectTimeoutSeconds: number }): Cause {
  const { user, database, connectTimeoutSeconds } = names;
  switch (code) {
    case "ECONNREFUSED":
      return { text: "connection refused (ECONNREFUSED)", hint: "Is PostgreSQL running, and listening on that host and port?", checkUrl: true };
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return {
        text: `no answer within ${connectTimeoutSeconds} s (${code})`,
        hint: "A firewall may be dropping the packets, or what listens there is not answering; MODBOX_DB_CONNECT_TIMEOUT_SECONDS sets the wait",
        checkUrl: true,
      };
    case "ENOTFOUND":
      return { text: "the host name does not resolve (ENOTFOUND)", checkUrl: true };
    case "EAI_AGAIN":
      return { text: "the host name could not be resolved (EAI_AGAIN)", hint: "DNS did not answer: check the resolver, or retry", checkUrl: true };
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { text: `no route to the host (${code})`, checkUrl: true };
    case "ECONNRESET":
    case "EPIPE":
    case "CONNECTION_CLOSED":
    case "CONNECTION_ENDED":
    case "CONNECTION_DESTROYED":
      return {
        text: `the connection was closed before PostgreSQL answered (${code})`,
        hint: "Is what listens on that port PostgreSQL? If it requires TLS, add ?sslmode=require",
        checkUrl: true,
      };
    case "28P01":
      return { text: `authentication failed for user ${user} (SQLSTATE 28P01: wrong password)`, checkUrl: true };
    case "28000":
      return { text: invalidAuthorization(source, user, database), checkUrl: true };
    case "3D000":
      return {
        text: `database ${database} does not exist (SQLSTATE 3D000)`,
        hint: "Create it (createdb, or CREATE DATABASE) or name an existing one",
        checkUrl: true,
      };
    case "57P03":
      return {
        text: "the server is starting up, shutting down or in recovery (SQLSTATE 57P03)",
        hint: "Start again once it accepts connections",
        checkUrl: false,
      };
    case "53300":
      return { text: "the server has no connection slot left (SQLSTATE 53300)", hint: "Raise its max_connections, or lower MODBOX_DB_POOL_SIZE", checkUrl: false };
    case "42501":
      return {
        text: `user ${user} lacks a privilege the migrations need (SQLSTATE 42501)`,
        hint: `It must be able to create schemas and tables in database ${database}: make it the database's owner, or GRANT CREATE ON DATABASE`,
        checkUrl: false,
      };
    case "SASL_SIGNATURE_MISMATCH":
      return {
        text: "the server's SCRAM signature does not match (SASL_SIGNATURE_MISMATCH)",
        hint: "The password is wrong, or the server is not the one it claims to be",
        checkUrl: true,
      };
  }
  if (/CERT|^ERR_TLS_|^ERR_SSL_|^EPROTO$/.test(code)) {
    return { text: `the TLS handshake failed (${code})`, hint: "Check the server's certificate and the URL's sslmode", checkUrl: true };
  }
  if (SQLSTATE.test(code)) return { text: `PostgreSQL refused a start-up statement (SQLSTATE ${code})`, checkUrl: false };
  return { text: `the connection failed (${code})`, checkUrl: true };
}

/**
 * SQLSTATE 28000 is several refusals; PostgreSQL names the function that raised it in `routine`
 * (not translated, unlike the message): InitializeSessionUserId for a role that does not exist or
 * may not log in, ClientAuthentication for pg_hba.conf.
 */
function invalidAuthorization(source: object, user: string, database: string): string {
  const routine = (source as { routine?: unknown }).routine;
  if (routine === "InitializeSessionUserId") {
    return `authentication failed for user ${user}: the role does not exist or may not log in (SQLSTATE 28000)`;
  }
  if (routine === "ClientAuthentication") {
    return `authentication failed for user ${user}: no pg_hba.conf entry of the server lets it connect to database ${database} from this host, or not without TLS (SQLSTATE 28000)`;
  }
  return `authentication failed for user ${user} (SQLSTATE 28000)`;
}
