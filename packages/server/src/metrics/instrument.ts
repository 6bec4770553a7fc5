/**
 * The feature counters, counted at the ports the services already use (compose.ts wraps them
 * only when metrics are on), so no service knows about metrics.
 */
import type { PullRepositoryPort } from "../services/pulls.js";
import type { RegistryAuth } from "../services/registry-auth.js";
import type { RegistryProber } from "../services/registry-prober.js";
import type { Metrics } from "./registry.js";

/**
 * Every pull-credential request is audited, granted or refused, before it answers: counting the
 * audit writes counts each request once, with the outcome the audit stored.
 */
export function countPullCredentials(pulls: PullRepositoryPort, metrics: Pick<Metrics, "pullCredentials">): PullRepositoryPort {
  return {
    resolve: (workspaceId, imageId) => pulls.resolve(workspaceId, imageId),
    async recordRefusal(event) {
      await pulls.recordRefusal(event);
      metrics.pullCredentials(event.outcome);
    },
    async recordIssued(event) {
      await pulls.recordIssued(event);
      metrics.pullCredentials("issued");
    },
  };
}

/**
 * The registry service's credential derivation (its logins only: the pull service has its own):
 * a cloud credential the provider would not exchange is a verification that failed before any
 * login, counted as `exchange_failed`; every other derivation goes on to a login, counted below.
 */
export function countExchangeFailures(auth: RegistryAuth, metrics: Pick<Metrics, "verification">): RegistryAuth {
  return {
    async derive(registry, secret) {
      const derived = await auth.derive(registry, secret);
      if (!derived.ok) metrics.verification({ status: "failed", code: "exchange_failed", detail: derived.reason });
      return derived;
    },
  };
}

/**
 * Every login to a registry (`POST …/verify`, `?verify=true` on a create or an update) goes
 * through the prober's `verifyLogin`: each outcome is counted, including a `?verify=true` that
 * the registry refused (nothing is saved then, but the login happened).
 */
export function countVerifications(prober: RegistryProber, metrics: Pick<Metrics, "verification">): RegistryProber {
  return {
    async verifyLogin(endpoint, credentials) {
      const outcome = await prober.verifyLogin(endpoint, credentials);
      metrics.verification(outcome);
      return outcome;
    },
    checkPull: (endpoint, repository, reference, credentials) => prober.checkPull(endpoint, repository, reference, credentials),
  };
}
