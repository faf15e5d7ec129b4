/**
 * Keys of a listing: iterate it to stream keys page by page (`for await`), or await it to collect
 * them all into an array.
 *
 * @example
 * for await (const key of cache.keys('user:')) console.log(key);
 * const all = await cache.keys('user:');
 */
export class KeyListing implements AsyncIterable<string>, Promise<string[]> {
  readonly [Symbol.toStringTag] = 'KeyListing';

  constructor(private readonly pages: () => AsyncIterable<string[]>) {}

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for await (const page of this.pages()) yield* page;
  }

  /** Pages of keys, as the store returns them. */
  byPage(): AsyncIterable<string[]> {
    return this.pages();
  }

  then<R1 = string[], R2 = never>(
    onFulfilled?: ((value: string[]) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.collect().then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<string[] | R> {
    return this.collect().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<string[]> {
    return this.collect().finally(onFinally);
  }

  private async collect(): Promise<string[]> {
    const all: string[] = [];
    for await (const page of this.pages()) all.push(...page);
    return all;
  }
}
