/**
 * An enum of openapi.yaml read from the file itself, for tests that hold a server table or list
 * to the contract. The server's types are generated from the same enums, so a table keyed by one
 * cannot miss a code at compile time; reading the file proves it against the contract as written.
 *
 * Read by the file's layout (no YAML parser is a dependency of the server): the schema at indent
 * 4 under `components.schemas`, its property at indent 8, that property's `enum:` at indent 10
 * and one `- item` per line at indent 12. A YAML `null` item is answered as `null`.
 */
import { readFileSync } from "node:fs";
import { OPENAPI_SPEC_PATH } from "./app.js";

export function contractEnum(schema: string, property: string): (string | null)[] {
  const lines = readFileSync(OPENAPI_SPEC_PATH, "utf8").split("\n");
  const schemaAt = lines.findIndex((line) => line === `    ${schema}:`);
  if (schemaAt < 0) throw new Error(`openapi.yaml has no schema ${schema}`);
  const schemaEnd = findFrom(lines, schemaAt + 1, (line) => /^ {4}\S/.test(line));
  const propertyAt = findFrom(lines, schemaAt + 1, (line) => line === `        ${property}:`);
  if (propertyAt < 0 || propertyAt > schemaEnd) throw new Error(`${schema} has no block property ${property}`);
  const propertyEnd = findFrom(lines, propertyAt + 1, (line) => /^ {0,8}\S/.test(line));
  const enumAt = findFrom(lines, propertyAt + 1, (line) => line === "          enum:");
  if (enumAt < 0 || enumAt > propertyEnd) throw new Error(`${schema}.${property} has no enum list`);
  const items: (string | null)[] = [];
  for (const line of lines.slice(enumAt + 1)) {
    const item = /^ {12}- ([a-z_]+)\s*$/.exec(line);
    if (!item) break;
    items.push(item[1] === "null" ? null : item[1]!);
  }
  return items;
}

/** The first index at or after `from` whose line matches, or the end of the file. */
function findFrom(lines: string[], from: number, match: (line: string) => boolean): number {
  for (let i = from; i < lines.length; i++) if (match(lines[i]!)) return i;
  return lines.length;
}
