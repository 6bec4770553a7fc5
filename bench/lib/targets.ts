/**
 * What every figure of the run is judged against: ratios to the baseline measured in the same
 * run, absolute limits where there is no baseline (start-up, key rotation).
 */
export const TARGETS = {
  readThroughput: 0.75,
  writeThroughput: 0.7,
  p99: 1.5,
  scaleP50: 1.3,
  crypto: 0.9,
  sdk: 1.1,
  readyPgliteMs: 6_000,
  readyPostgresMs: 1_500,
  /** Key rotation under load: every row on the new key within 60 s per 100,000 rows … */
  rotationSeconds: 60,
  rotationRows: 100_000,
  /** … with no read answered other than 2xx, and no acknowledged password overwritten. */
  rotationFailedReads: 0,
  rotationLost: 0,
  /** A real client's p50 under 32 connections of forged tokens ÷ its p50 alone. */
  forgedTokensP50: 2,
  /** Create-registry throughput with a fresh `Idempotency-Key` per request ÷ without one. */
  idempotencyCreate: 0.9,
} as const;
