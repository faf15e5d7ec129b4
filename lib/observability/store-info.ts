import type { CacheStore } from '../stores/cache-store.interface.js';
import type { StoreInfo } from './stats-recorder.js';

type Readable = Partial<Record<'size' | 'totalBytes' | 'evictions', unknown>> & { state?: unknown };

/**
 * What a created store tells about itself, read by duck typing (no store class is loaded): its tier
 * (`memory` for an in-process store, `redis`, else the class name), entries, bytes and evictions where
 * it counts them, and its circuit breaker's state.
 */
export function describeStore(store: CacheStore, inProcess: boolean): StoreInfo {
  const s = store as CacheStore & Readable;
  const name = store.constructor?.name ?? 'store';
  const tier = inProcess && name === 'MemoryStore' ? 'memory' : name === 'RedisStore' ? 'redis' : name.replace(/Store$/, '').toLowerCase() || 'store';
  const info: { -readonly [K in keyof StoreInfo]: StoreInfo[K] } = { tier };
  if (typeof s.size === 'number') info.entries = s.size;
  if (typeof s.totalBytes === 'number') info.bytes = s.totalBytes;
  if (typeof s.evictions === 'number') info.evictions = s.evictions;
  if (s.state === 'closed' || s.state === 'open' || s.state === 'half-open') info.breaker = s.state;
  return info;
}
