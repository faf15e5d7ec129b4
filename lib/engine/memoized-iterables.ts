import type { Logger } from '@nestjs/common';
import { type MemoizeIterableOptions, memoizeIterable } from '../codec/memoize-iterable.js';
import type { CacheScope } from '../keys/key-builder.js';
import { printableKey } from '../keys/logical-key-marks.js';
import type { EntryReader } from './entry-reader.js';
import type { LoadMarks } from './load-marks.js';
import { type StoreFailures, Unresolved } from './store-failures.js';
import type { TargetResolver } from './target-resolver.js';

/** The read-through of iterables: items streamed from the store on a hit, stored as they are yielded on a miss. */
export class MemoizedIterables {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly reader: EntryReader,
    private readonly failures: StoreFailures,
    private readonly marks: LoadMarks,
    private readonly logger: Logger,
  ) {}

  /**
   * Yields the items of `loader()` while storing them, or streams them back from the store on a hit.
   * See `TenantScopedCache.memoizeIterable`. A store that is down makes it a miss: items come from the loader.
   */
  async *memoizeIterable<T>(
    scope: CacheScope,
    key: string,
    loader: () => AsyncIterable<T> | Iterable<T>,
    opts: MemoizeIterableOptions = {},
  ): AsyncGenerator<T, void, undefined> {
    const ttl = this.resolver.ttl(opts.ttl);
    const t = await this.resolver.resolve('read', 'get', scope, opts.store, () => this.resolver.target(scope, key, opts.store));
    if (t instanceof Unresolved) {
      yield* loader();
      return;
    }
    yield* memoizeIterable<T>(t.resolved.codec, t.key, key, scope, loader, ttl, opts, {
      failed: (operation, error) => this.failures.failed(t, operation, error),
      corrupt: (reason) => this.reader.dropCorrupt(t, reason),
      skipped: (reason) => this.logger.warn(`Not caching "${printableKey(key)}": ${reason}`),
      track: () => {
        const mark = this.marks.start(t, key);
        return { invalidated: () => mark.invalidated, done: () => this.marks.end(t, mark) };
      },
    });
  }
}
