/**
 * Paging through a list in a test without a loop that can run forever: a cursor that stops
 * advancing (an off-by-one, a page that repeats) fails the test at once instead of paging until
 * the run's time limit.
 */
import { expect } from "vitest";

/**
 * Fetches pages until an empty one, each after the last item of the previous page (undefined
 * for the first): at most `maxPages` non-empty pages, then the test fails.
 *
 * @example
 * const pages = await walkPages((last) => repo.list(ws, { limit: 2, ...(last && { beforeId: last.id }) }), rows.length);
 */
export async function walkPages<Item>(fetchPage: (last: Item | undefined) => Promise<Item[]>, maxPages: number): Promise<Item[][]> {
  const pages: Item[][] = [];
  let last: Item | undefined;
  // One fetch more than the pages allowed: the empty page that ends the list.
  for (let fetched = 0; fetched <= maxPages; fetched++) {
    const page = await fetchPage(last);
    if (page.length === 0) return pages;
    pages.push(page);
    last = page.at(-1);
  }
  return expect.fail(`still paging after ${maxPages} page(s): the cursor does not advance, or the list is longer than the test says`);
}

/**
 * Every item of an async iterable (an SDK list walked with `for await`), failing the test as soon
 * as there are more than `maxItems`.
 */
export async function collectAtMost<Item>(items: AsyncIterable<Item>, maxItems: number): Promise<Item[]> {
  const out: Item[] = [];
  for await (const item of items) {
    if (out.length === maxItems) {
      return expect.fail(`more than ${maxItems} item(s): the pages do not end (a cursor that does not advance?)`);
    }
    out.push(item);
  }
  return out;
}
