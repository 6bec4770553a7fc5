import { Param, sql, type Column, type SQL } from "drizzle-orm";

/**
 * A placeholder of a prepared statement, bound as drizzle binds a plain value of `column`: NULL
 * stays NULL, anything else goes through the column's encoder (a `Date` to ISO text, jsonb to
 * JSON text). A bare `sql.placeholder()` would not do: drizzle's `fillPlaceholders` hands null to
 * the encoder too, and a timestamp's encoder throws on it.
 *
 * `cast` names the column's SQL type, for a parameter PostgreSQL cannot type from its place (one
 * in a SELECT list, as in `INSERT … SELECT`, would otherwise be text).
 */
export function boundPlaceholder(name: string, column: Column, cast?: string): SQL {
  const param = new Param(sql.placeholder(name), {
    mapToDriverValue: (value: unknown) => (value === null ? null : column.mapToDriverValue(value)),
  });
  return cast === undefined ? sql`${param}` : sql`${param}::${sql.raw(cast)}`;
}
