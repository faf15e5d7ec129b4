import type { CacheStore } from './cache-store.interface.js';

/** The optional members a store in front of another (a tier, the resilience wrapper) hands on to it. */
export type ForwardedMembers = Pick<CacheStore, 'sadd' | 'sscan' | 'takeLease' | 'renewLease' | 'releaseLease' | 'watchLeases'>;

/** How the calls are handed on: each command (named by its operation) and each page of a scan. */
export interface Forwarding {
  call<T>(operation: string, run: () => Promise<T>): Promise<T>;
  pages(operation: string, pages: AsyncIterable<string[]>): AsyncIterable<string[]>;
}

/** Calls and pages as they are. */
const AS_THEY_ARE: Forwarding = { call: (_, run) => run(), pages: (_, pages) => pages };

/**
 * The sets (`sadd`, `sscan`) and leases (`takeLease`, `renewLease`, `releaseLease`, `watchLeases`) of `inner`,
 * handed on to it through `through`: each group whole when `inner` has all of it, else absent (a member that
 * is present claims a capability, see store-traits.ts). `watchLeases` is handed on as it is (a subscription,
 * not a command). To be `Object.assign`ed onto the outer store in its constructor.
 */
export function forwardMembers(inner: CacheStore, through: Forwarding = AS_THEY_ARE): ForwardedMembers {
  const members: { -readonly [K in keyof ForwardedMembers]?: ForwardedMembers[K] } = {};
  const { sadd, sscan, takeLease, renewLease, releaseLease, watchLeases } = inner;
  if (sadd !== undefined && sscan !== undefined) {
    members.sadd = (key, m, ttl) => through.call('sadd', () => sadd.call(inner, key, m, ttl));
    members.sscan = (key, pageSize) => through.pages('sscan', sscan.call(inner, key, pageSize));
  }
  if (takeLease !== undefined && renewLease !== undefined && releaseLease !== undefined && watchLeases !== undefined) {
    members.takeLease = (key, token, ttl) => through.call('takeLease', () => takeLease.call(inner, key, token, ttl));
    members.renewLease = (key, token, ttl) => through.call('renewLease', () => renewLease.call(inner, key, token, ttl));
    members.releaseLease = (key, token) => through.call('releaseLease', () => releaseLease.call(inner, key, token));
    members.watchLeases = (onRelease) => watchLeases.call(inner, onRelease);
  }
  return members;
}
