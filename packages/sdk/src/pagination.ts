import { ModboxError } from "./errors.js";

/** The wire shape of every list response. */
export interface PageResponse<Item> {
  data: Item[];
  next_cursor: string | null;
}

/** Fetches one page for a query; the query's `cursor` picks the page. */
export type PageFetcher<Query, Item> = (query: Query) => Promise<PageResponse<Item>>;

type CursorQuery = { cursor?: string };

/**
 * One page of a list, plus the means to walk on. Iterating it with `for await` yields every
 * item from this page to the last one, fetching further pages with the same filters.
 */
export class Page<Item> implements AsyncIterable<Item> {
  /** The items of this page, newest first. */
  readonly data: Item[];
  /** The cursor of the next page, `null` on the last page. */
  readonly nextCursor: string | null;
  readonly #query: CursorQuery;
  readonly #fetchPage: PageFetcher<CursorQuery, Item>;

  constructor(
    response: PageResponse<Item>,
    query: CursorQuery,
    fetchPage: PageFetcher<CursorQuery, Item>,
  ) {
    this.data = response.data;
    this.nextCursor = response.next_cursor;
    this.#query = query;
    this.#fetchPage = fetchPage;
  }

  /**
   * Whether another page follows this one.
   *
   * @example
   * ```ts
   * let page = await client.registries.list();
   * while (page.hasNextPage()) page = await page.getNextPage();
   * ```
   */
  hasNextPage(): boolean {
    return this.nextCursor !== null;
  }

  /**
   * Fetches the next page with the same filters. Throws a `ModboxError` on the last page.
   *
   * @example
   * ```ts
   * const first = await client.registries.list({ enabled: true, limit: 10 });
   * const second = first.hasNextPage() ? await first.getNextPage() : undefined;
   * ```
   */
  async getNextPage(): Promise<Page<Item>> {
    if (this.nextCursor === null) throw new ModboxError("There is no next page.");
    const query = { ...this.#query, cursor: this.nextCursor };
    return new Page(await this.#fetchPage(query), query, this.#fetchPage);
  }

  /**
   * Yields this page, then each following page.
   *
   * @example
   * ```ts
   * for await (const page of (await client.registries.list()).pages()) console.log(page.data.length);
   * ```
   */
  async *pages(): AsyncGenerator<Page<Item>, void, undefined> {
    let page: Page<Item> = this;
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }
}

/**
 * What `list()` returns: await it for the first `Page`, or iterate it with `for await` for every
 * item across all pages. The first request is sent when it is first awaited or iterated, and
 * only once however often it is.
 */
export class PagePromise<Item> implements Promise<Page<Item>>, AsyncIterable<Item> {
  readonly #query: CursorQuery;
  readonly #fetchPage: PageFetcher<CursorQuery, Item>;
  #firstPage: Promise<Page<Item>> | undefined;

  constructor(query: CursorQuery, fetchPage: PageFetcher<CursorQuery, Item>) {
    this.#query = query;
    this.#fetchPage = fetchPage;
  }

  /** A full `Promise`, so it fits wherever one is expected (`Promise.all`, `expect().rejects`, …). */
  get [Symbol.toStringTag](): string {
    return "PagePromise";
  }

  // `reason: any`, as in lib.es5's Promise, so handlers written for a Promise fit unchanged.
  then<Fulfilled = Page<Item>, Rejected = never>(
    onFulfilled?: ((page: Page<Item>) => Fulfilled | PromiseLike<Fulfilled>) | null,
    onRejected?: ((reason: any) => Rejected | PromiseLike<Rejected>) | null,
  ): Promise<Fulfilled | Rejected> {
    return this.#first().then(onFulfilled, onRejected);
  }

  catch<Rejected = never>(
    onRejected?: ((reason: any) => Rejected | PromiseLike<Rejected>) | null,
  ): Promise<Page<Item> | Rejected> {
    return this.#first().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<Page<Item>> {
    return this.#first().finally(onFinally);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    yield* await this.#first();
  }

  #first(): Promise<Page<Item>> {
    this.#firstPage ??= this.#fetchPage(this.#query).then(
      (response) => new Page(response, this.#query, this.#fetchPage),
    );
    return this.#firstPage;
  }
}

/**
 * Wraps a typed single-page fetcher into a `PagePromise`; the query's filters are sent again
 * with each `next_cursor`.
 */
export function paginate<Query extends CursorQuery, Item>(
  query: Query,
  fetchPage: PageFetcher<Query, Item>,
): PagePromise<Item> {
  // Every query built after the first is `{ ...query, cursor }`, so it is still a Query.
  return new PagePromise(query, fetchPage as PageFetcher<CursorQuery, Item>);
}
