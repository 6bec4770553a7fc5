/**
 * The metrics of one server: a prom-client registry of its own (never the global one, so tests
 * may start several servers in a process), Node's default process metrics, and the families this
 * server defines. Created only when `MODBOX_METRICS_PORT` is set; otherwise nothing here exists
 * and nothing is counted.
 *
 * No label ever holds an id (of a registry, an image, a token, a workspace), a name or a secret:
 * routes are the contract's templates, outcomes and codes are enums, and key ids are the
 * operator's labels for its encryption keys (as `keys status` prints them), bounded by the keys it
 * configured.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { createPoolUsage, type PoolUsage } from "../db/pool-usage.js";
import type { PullCredentialOutcome } from "../db/pull-credential-outcomes.js";
import { PULL_CREDENTIAL_OUTCOMES, VERIFICATION_LABEL_SETS, verificationLabels, type VerificationOutcome } from "./labels.js";

/**
 * An API answers in milliseconds; registry calls (verify, pull check) take up to the outbound
 * timeout (5 s by default). Seconds, as Prometheus wants.
 */
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type HttpLabel = "method" | "route" | "status";

/** What the key-custody table tells about each key, read at scrape time. */
export interface KeyBudgetSource {
  list(): Promise<readonly { keyId: string; encryptionsReserved: number }[]>;
}

/** The cipher's count of its own encryptions per key (`Cipher.encryptionCounts`). */
export interface EncryptionCounts {
  encryptionCounts(): Record<string, number>;
}

export interface Metrics {
  readonly registry: Registry;
  /** Per request, by the contract's route template (http-metrics.ts). */
  readonly httpRequestDuration: Histogram<HttpLabel>;
  /** The request pool's use, counted by the database handle (db/pool-usage.ts). */
  readonly pool: PoolUsage;
  pullCredentials(outcome: PullCredentialOutcome): void;
  verification(outcome: VerificationOutcome): void;
  /**
   * Encryptions per key: this process's (the cipher's own count) and the nonce budget reserved in
   * the database by every instance (read at scrape; `onError` hears a failed read, and the scrape
   * answers without that family).
   */
  watchEncryptions(
    cipher: EncryptionCounts,
    keys: KeyBudgetSource,
    onError: (err: unknown) => void,
  ): void;
}

export function createMetrics(options: { dbPoolSize: number }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpRequestDuration = new Histogram<HttpLabel>({
    name: "http_request_duration_seconds",
    help: "Time to answer an API request, by method, route template of openapi.yaml (`unmatched` when the request matched none) and status.",
    labelNames: ["method", "route", "status"],
    buckets: HTTP_DURATION_BUCKETS,
    registers,
  });

  const pullCredentials = new Counter<"outcome">({
    name: "modbox_pull_credentials_total",
    help: "Pull-credential requests by audited outcome: issued, or the problem code that refused the hand-out.",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of PULL_CREDENTIAL_OUTCOMES) pullCredentials.inc({ outcome }, 0);

  const verifications = new Counter<"status" | "error_code">({
    name: "modbox_registry_verifications_total",
    help: "Logins to registries (POST /registries/{registry_id}/verify and ?verify=true) by Verification.status and error_code (`none` when null).",
    labelNames: ["status", "error_code"],
    registers,
  });
  for (const labels of VERIFICATION_LABEL_SETS) verifications.inc({ ...labels }, 0);

  const pool = createPoolUsage(options.dbPoolSize);
  new Gauge({
    name: "modbox_db_pool_size",
    help: "Connections of the database request pool (MODBOX_DB_POOL_SIZE; 1 for the embedded database).",
    registers,
    collect() {
      this.set(pool.size);
    },
  });
  new Gauge({
    name: "modbox_db_pool_in_use",
    help: "Pool connections busy with a statement or a transaction: min(statements and transactions in flight, pool size).",
    registers,
    collect() {
      this.set(pool.inUse());
    },
  });
  new Gauge({
    name: "modbox_db_pool_waiting",
    help: "Statements and transactions in flight beyond the pool size: waiting for a connection, or queued behind another on one.",
    registers,
    collect() {
      this.set(pool.waiting());
    },
  });
  new Counter({
    name: "modbox_db_pool_waits_total",
    help: "Statements and transactions issued while every pool connection was busy.",
    registers,
    collect() {
      this.reset();
      this.inc(pool.waitedTotal);
    },
  });

  // Known once the keys are open (watchEncryptions); until then these families have no samples.
  let encryptionSources: { cipher: EncryptionCounts; keys: KeyBudgetSource; onError: (err: unknown) => void } | undefined;
  new Counter<"key_id">({
    name: "modbox_encryptions_total",
    help: "Passwords this process encrypted, by encryption key id (plus the start-up self-test's one per key).",
    labelNames: ["key_id"],
    registers,
    // Mirrors the cipher's own count at each scrape (its counts only grow), so nothing is added to
    // the encryption path.
    collect() {
      this.reset();
      if (!encryptionSources) return;
      for (const [keyId, count] of Object.entries(encryptionSources.cipher.encryptionCounts())) this.inc({ key_id: keyId }, count);
    },
  });
  new Gauge<"key_id">({
    name: "modbox_encryption_key_reserved_encryptions",
    help: "Encryptions reserved in the database under each key by every instance: the nonce budget's count, an upper bound of encryptions done (limit 2^32).",
    labelNames: ["key_id"],
    registers,
    async collect() {
      this.reset();
      if (!encryptionSources) return;
      try {
        for (const key of await encryptionSources.keys.list()) this.set({ key_id: key.keyId }, key.encryptionsReserved);
      } catch (err) {
        encryptionSources.onError(err);
      }
    },
  });

  return {
    registry,
    httpRequestDuration,
    pool,
    pullCredentials: (outcome) => pullCredentials.inc({ outcome }),
    verification: (outcome) => verifications.inc({ ...verificationLabels(outcome) }),
    watchEncryptions(cipher, keys, onError) {
      encryptionSources = { cipher, keys, onError };
    },
  };
}
