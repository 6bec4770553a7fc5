/**
 * A list query has optional filters; each combination of them is its own SQL, so its own
 * prepared statement. `preparedPerFilters` builds the statement of a combination on first use and
 * keeps it: at most 2^n statements for n filters, whatever the callers send.
 */
export function preparedPerFilters<Q>(prepare: (present: readonly boolean[]) => Q): (present: readonly boolean[]) => Q {
  const prepared = new Map<number, Q>();
  return (present) => {
    const key = present.reduce((bits, on) => (bits << 1) | Number(on), 0);
    let query = prepared.get(key);
    if (query === undefined) {
      query = prepare(present);
      prepared.set(key, query);
    }
    return query;
  };
}
