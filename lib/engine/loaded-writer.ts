import type { Logger } from '@nestjs/common';
import type { Encoded } from '../codec/entry-pipeline.js';
import type { TagStamp } from '../codec/tag-stamp.js';
import { printableKey } from '../keys/logical-key-marks.js';
import type { WriteBack } from './load-request.js';
import type { StoreFailures } from './store-failures.js';
import type { TagIndex } from './tag-index.js';

/**
 * The write-back of a read-through's loaded value: encoded at once, then (unless the load's cluster lease was
 * revoked) the tag index and the entry; an invalidation that landed meanwhile removes it again.
 */
export class LoadedWriter {
  constructor(
    private readonly failures: StoreFailures,
    private readonly tagIndex: TagIndex,
    private readonly logger: Logger,
  ) {}

  /** Writes a loaded value back: tag index first, then the entry; fenced on the load's lease and mark. */
  async write(w: WriteBack): Promise<void> {
    const { t, key, value, ttl, plainTags, mark, stamps } = w;
    let tags: readonly TagStamp[] | undefined;
    try {
      tags = stamps instanceof Promise ? await stamps : stamps;
    } catch (error) {
      // The tag versions could not be read: an entry without them would escape its tags' invalidation.
      this.failures.failed(t, 'set', error);
      return;
    }
    let bytes: Encoded;
    try {
      // NOTE: encoded before the first await when it can be: a background write-back keeps the caller's order
      // (the loader's value is defined here: see load()).
      const encoded = t.resolved.codec.encode(value, t.key, key, t.scope, w.codec, tags);
      bytes = encoded instanceof Promise ? await encoded : encoded;
    } catch (error) {
      this.logger.warn(`Not caching "${printableKey(key)}": ${(error as Error).message}`);
      return;
    }
    try {
      // A load whose cluster lease an invalidation revoked (on any instance) keeps its value out.
      if (mark.fence !== undefined && !(await mark.fence.held())) return;
      // The index is written first: an entry is never reachable without its tag being able to find it.
      if (plainTags.length > 0) await this.tagIndex.record(t.resolved, t.scope, t.key, plainTags, ttl);
      await t.resolved.codec.set(t.key, t.scope, bytes, ttl);
      // An invalidation that landed while the write was in flight wins: the entry goes again (checked after the
      // write: an invalidation revokes the lease before it deletes, so one of the two removes the value).
      if (mark.invalidated || (mark.fence !== undefined && !(await mark.fence.held()))) await t.resolved.codec.delete(t.key, t.scope);
    } catch (error) {
      this.failures.failed(t, 'set', error);
    }
  }
}
