/**
 * Tokens a cloud credential was exchanged for, per registry, so that a pull does not cost a round
 * trip to the provider each time. The kubelet's rule: a token is used until half its lifetime is
 * left, then exchanged again (the half left covers a pull that starts just before). A failed
 * exchange is remembered for a while (60 s), so a registry whose key was revoked does not send the
 * provider a request per pull. Concurrent misses of one registry share one exchange.
 *
 * An entry belongs to one credential: its `fingerprint` (a digest of what was exchanged) must
 * match, so a rotated key or a changed server is never answered with the old one's token.
 */
export interface ExchangedToken {
  username: string;
  password: string;
  expiresAt: Date;
}

export type ExchangeOutcome = { ok: true; token: ExchangedToken } | { ok: false; reason: string };

export interface ExchangeCacheOptions {
  now: () => Date;
  /** How long a failure is answered from the cache (default 60 s). */
  failureTtlMs?: number;
  /** Registries kept at most; the oldest entry goes first (default 10,000). */
  maxEntries?: number;
}

type Entry =
  | { fingerprint: string; state: "pending"; outcome: Promise<ExchangeOutcome> }
  | { fingerprint: string; state: "done"; outcome: ExchangeOutcome; freshUntil: number };

export type ExchangeCache = ReturnType<typeof createExchangeCache>;

export const FAILURE_TTL_MS = 60_000;

export function createExchangeCache(options: ExchangeCacheOptions) {
  const failureTtlMs = options.failureTtlMs ?? FAILURE_TTL_MS;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();

  function store(key: string, entry: Entry): void {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  return {
    /**
     * The cached outcome for `key` while it is fresh and for this `fingerprint`; otherwise runs
     * `exchange` (once for every concurrent caller) and caches what it answers. `exchange` answers
     * a failure as `{ ok: false }`; a throw is not cached.
     */
    async get(key: string, fingerprint: string, exchange: () => Promise<ExchangeOutcome>): Promise<ExchangeOutcome> {
      const cached = entries.get(key);
      if (cached?.fingerprint === fingerprint) {
        if (cached.state === "pending") return cached.outcome;
        if (options.now().getTime() < cached.freshUntil) return cached.outcome;
      }
      const startedAt = options.now().getTime();
      const pending = exchange();
      store(key, { fingerprint, state: "pending", outcome: pending });
      try {
        const outcome = await pending;
        const freshUntil = outcome.ok
          ? startedAt + (outcome.token.expiresAt.getTime() - startedAt) / 2
          : options.now().getTime() + failureTtlMs;
        // Only if no newer exchange (another credential) took the slot meanwhile.
        if (entries.get(key)?.outcome === pending) store(key, { fingerprint, state: "done", outcome, freshUntil });
        return outcome;
      } catch (err) {
        if (entries.get(key)?.outcome === pending) entries.delete(key);
        throw err;
      }
    },
  };
}
