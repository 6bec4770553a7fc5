import { describe, expect, test, vi } from "vitest";
import { ModboxError } from "./errors.js";
import { Page, paginate, type PageResponse } from "./pagination.js";

type Query = { cursor?: string; enabled?: boolean };

/** Three pages of numbers, chained by cursors "c2" and "c3". */
function threePages() {
  const pages: Record<string, PageResponse<number>> = {
    start: { data: [1, 2], next_cursor: "c2" },
    c2: { data: [3, 4], next_cursor: "c3" },
    c3: { data: [5], next_cursor: null },
  };
  const fetchPage = vi.fn(async (query: Query) => {
    const page = pages[query.cursor ?? "start"];
    if (page === undefined) throw new Error(`unknown cursor ${query.cursor}`);
    return page;
  });
  return fetchPage;
}

/**
 * Every item, failing past `max` (the fakes here hold at most 5): a paginator that does not stop
 * fails the test instead of looping until the run's time limit.
 */
async function collect<T>(items: AsyncIterable<T>, max = 20): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) {
    if (out.length === max) expect.fail(`more than ${max} items: the iteration does not end`);
    out.push(item);
  }
  return out;
}

describe("PagePromise", () => {
  test("awaiting gives the first page", async () => {
    const page = await paginate<Query, number>({ enabled: true }, threePages());
    expect(page).toBeInstanceOf(Page);
    expect(page.data).toEqual([1, 2]);
    expect(page.nextCursor).toBe("c2");
    expect(page.hasNextPage()).toBe(true);
  });

  test("iterating yields every item across all pages, sending the filters each time", async () => {
    const fetchPage = threePages();
    const items = await collect(paginate<Query, number>({ enabled: true }, fetchPage));
    expect(items).toEqual([1, 2, 3, 4, 5]);
    expect(fetchPage.mock.calls.map(([query]) => query)).toEqual([
      { enabled: true },
      { enabled: true, cursor: "c2" },
      { enabled: true, cursor: "c3" },
    ]);
  });

  test("starts from the caller's cursor", async () => {
    const items = await collect(paginate<Query, number>({ cursor: "c2" }, threePages()));
    expect(items).toEqual([3, 4, 5]);
  });

  test("sends nothing until awaited or iterated, and the first page only once", async () => {
    const fetchPage = threePages();
    const list = paginate<Query, number>({}, fetchPage);
    expect(fetchPage).not.toHaveBeenCalled();
    await list;
    await list;
    await collect(list);
    expect(fetchPage).toHaveBeenCalledTimes(3); // first page once, then c2 and c3
  });

  test("errors reject the await and the iteration", async () => {
    const failing = () => paginate<Query, number>({}, () => Promise.reject(new Error("boom")));
    await expect(failing()).rejects.toThrow("boom");
    await expect(collect(failing())).rejects.toThrow("boom");
    await expect(failing().catch((e: Error) => e.message)).resolves.toBe("boom");
  });
});

describe("Page", () => {
  test("getNextPage walks the cursors, and throws after the last page", async () => {
    const first = await paginate<Query, number>({}, threePages());
    const second = await first.getNextPage();
    const third = await second.getNextPage();
    expect([second.data, third.data]).toEqual([[3, 4], [5]]);
    expect(third.hasNextPage()).toBe(false);
    await expect(third.getNextPage()).rejects.toBeInstanceOf(ModboxError);
  });

  test("is itself async-iterable over this page and the following ones", async () => {
    const first = await paginate<Query, number>({}, threePages());
    const second = await first.getNextPage();
    expect(await collect(second)).toEqual([3, 4, 5]);
  });

  test("pages() yields each page", async () => {
    const first = await paginate<Query, number>({}, threePages());
    const pages = await collect(first.pages());
    expect(pages.map((p) => p.data)).toEqual([[1, 2], [3, 4], [5]]);
  });

  test("an empty single page iterates nothing", async () => {
    const list = paginate<Query, number>({}, async () => ({ data: [], next_cursor: null }));
    expect(await collect(list)).toEqual([]);
  });
});
