/**
 * How busy the request pool is, counted where the server hands work to the driver. Neither
 * postgres.js nor PGlite reports its pool: postgres.js keeps its connection queues private, and
 * PGlite is one session behind a lock. So the handle given to drizzle is wrapped (only when
 * metrics are on) and every unit of work that holds a connection is counted while it runs: a
 * statement outside a transaction, or a whole transaction (its statements run on the connection
 * it holds, and are not counted again).
 *
 * With `size` connections, units up to `size` each run on a connection of their own (postgres.js
 * takes an idle connection, else opens a closed one; PGlite has one session); the units past
 * `size` wait: in postgres.js' queue, or pipelined behind another statement on a busy connection,
 * or on PGlite's lock. Hence `inUse = min(units, size)` and `waiting = units - inUse`. A unit is
 * counted from the moment drizzle issues it until its promise settles, so a connection still
 * being opened counts as in use. The revocation listener's connection and the migrator's session
 * are not part of the pool and are not counted.
 */
export interface PoolUsage {
  /** The pool's connections: `MODBOX_DB_POOL_SIZE` for PostgreSQL, 1 for PGlite. */
  readonly size: number;
  /** Units issued and not yet settled. */
  readonly inFlight: number;
  /** Connections busy with a unit of work: min(inFlight, size). */
  inUse(): number;
  /** Units that wait for a connection (or behind another unit on one): inFlight - inUse. */
  waiting(): number;
  /** Units, since start, that were issued while every connection was busy. */
  readonly waitedTotal: number;
  /** Counts one unit as started; call the returned function once when it settles. */
  start(): () => void;
}

export function createPoolUsage(size: number): PoolUsage {
  let inFlight = 0;
  let waitedTotal = 0;
  return {
    size,
    get inFlight() {
      return inFlight;
    },
    get waitedTotal() {
      return waitedTotal;
    },
    inUse: () => Math.min(inFlight, size),
    waiting: () => Math.max(0, inFlight - size),
    start() {
      if (inFlight >= size) waitedTotal++;
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight--;
      };
    },
  };
}

/** Counts `promise` as one unit of work while it is pending; returns it unchanged. */
function tracked<T extends PromiseLike<unknown>>(usage: PoolUsage, promise: T): T {
  const done = usage.start();
  // A postgres.js query runs when it is first awaited: this `then` starts it a microtask before
  // drizzle's own await would (drizzle sets `.values()` synchronously, before either runs it).
  promise.then(done, done);
  return promise;
}

/**
 * The postgres.js client as drizzle sees it, with `unsafe` (every statement drizzle sends outside
 * a transaction) and `begin` (a transaction, which holds one connection) counted. Everything else
 * (`options`, which drizzle sets its parsers on) is the client's own.
 */
export function trackPostgresClient<C extends { unsafe: (...args: never[]) => PromiseLike<unknown>; begin: (...args: never[]) => PromiseLike<unknown> }>(
  client: C,
  usage: PoolUsage,
): C {
  const unsafe = (...args: Parameters<C["unsafe"]>) => tracked(usage, client.unsafe(...args));
  const begin = (...args: Parameters<C["begin"]>) => tracked(usage, client.begin(...args));
  return new Proxy(client, {
    get: (target, property, receiver) =>
      property === "unsafe" ? unsafe : property === "begin" ? begin : Reflect.get(target, property, receiver),
  });
}

/**
 * The PGlite instance as drizzle sees it, with `query` and `transaction` (which holds PGlite's one
 * session) counted. PGlite keeps state in private fields, so its other methods are bound to it.
 */
export function trackPgliteClient<C extends { query: (...args: never[]) => PromiseLike<unknown>; transaction: (...args: never[]) => PromiseLike<unknown> }>(
  client: C,
  usage: PoolUsage,
): C {
  const query = (...args: Parameters<C["query"]>) => tracked(usage, client.query(...args));
  const transaction = (...args: Parameters<C["transaction"]>) => tracked(usage, client.transaction(...args));
  return new Proxy(client, {
    get: (target, property) => {
      if (property === "query") return query;
      if (property === "transaction") return transaction;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
