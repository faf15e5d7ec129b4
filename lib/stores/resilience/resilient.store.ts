import type { CacheStore, StoreCapabilities, StoreContext, StoreEntry } from '../cache-store.interface.js';
import { forwardMembers } from '../forward-members.js';
import type { BreakerState } from './circuit-breaker.js';
import { CommandGuard, type ResilienceOptions } from './command-guard.js';

export type { ResilienceOptions } from './command-guard.js';

/**
 * Wraps a remote store so that a dead or hanging server costs at most `commandTimeout` per call, and
 * nothing once the breaker is open. Failures surface as `StoreUnavailableError`.
 *
 * It has exactly the optional members (sets, fast paths, `shareReads`) of the store it wraps, and no
 * others: around a store without sets, plain-tag invalidation is refused as it is on the bare store.
 * Synchronous paths (`getSync`, `setSync`, `peekLocal`, of in-process stores and tiers) go straight to the store: there is no
 * call to time out.
 *
 * @example
 * const store = new ResilientStore(new MyStore(url), { commandTimeout: 500 }, context);
 */
export class ResilientStore implements CacheStore {
  private readonly guard: CommandGuard;

  // NOTE: `declare`d, and assigned in the constructor only when the inner store has them: a member that is
  // present claims a capability (see store-traits.ts).
  declare readonly shareReads?: boolean;
  declare readonly getSync?: CacheStore['getSync'];
  declare readonly peekLocal?: CacheStore['peekLocal'];
  declare readonly getThen?: CacheStore['getThen'];
  declare readonly setSync?: CacheStore['setSync'];
  declare readonly setText?: CacheStore['setText'];
  declare readonly setThen?: CacheStore['setThen'];
  declare readonly sadd?: CacheStore['sadd'];
  declare readonly sscan?: CacheStore['sscan'];
  declare readonly takeLease?: CacheStore['takeLease'];
  declare readonly renewLease?: CacheStore['renewLease'];
  declare readonly releaseLease?: CacheStore['releaseLease'];
  declare readonly watchLeases?: CacheStore['watchLeases'];

  constructor(
    private readonly inner: CacheStore,
    options: ResilienceOptions = {},
    context?: StoreContext,
  ) {
    this.guard = new CommandGuard(inner.name, { ...options, isCallerError: isCommandError, outages: context?.outages });
    // NOTE: lease commands are bounded like any other: a frozen store cannot hang a load (it then falls back).
    const guarded = { call: this.guard.run.bind(this.guard), pages: (operation: string, pages: AsyncIterable<string[]>) => guardedPages(this.guard, operation, pages) };
    Object.assign(this, optionalMembers(inner, this.guard), forwardMembers(inner, guarded));
  }

  get name(): string {
    return this.inner.name;
  }

  get capabilities(): StoreCapabilities {
    return this.inner.capabilities;
  }

  /** The breaker's state, for health checks. */
  get state(): BreakerState {
    return this.guard.state;
  }

  get(key: string) {
    return this.guard.run('get', () => this.inner.get(key));
  }
  set(key: string, value: Buffer, ttl?: number) {
    return this.guard.run('set', () => this.inner.set(key, value, ttl));
  }
  add(key: string, value: Buffer, ttl?: number) {
    return this.guard.run('add', () => this.inner.add(key, value, ttl));
  }
  delete(key: string) {
    return this.guard.run('delete', () => this.inner.delete(key));
  }
  has(key: string) {
    return this.guard.run('has', () => this.inner.has(key));
  }
  mget(keys: readonly string[]) {
    return this.guard.run('mget', () => this.inner.mget(keys));
  }
  mset(entries: readonly StoreEntry[]) {
    return this.guard.run('mset', () => this.inner.mset(entries));
  }
  mdel(keys: readonly string[]) {
    return this.guard.run('mdel', () => this.inner.mdel(keys));
  }
  incr(key: string, by: number, ttl?: number) {
    return this.guard.run('incr', () => this.inner.incr(key, by, ttl));
  }
  touch(key: string, ttl?: number) {
    return this.guard.run('touch', () => this.inner.touch(key, ttl));
  }
  ttl(key: string) {
    return this.guard.run('ttl', () => this.inner.ttl(key));
  }
  scan(prefix: string, pageSize?: number): AsyncIterable<string[]> {
    return guardedPages(this.guard, 'scan', this.inner.scan(prefix, pageSize));
  }
  deleteByPrefix(prefix: string): Promise<number> {
    // Many commands: bounded per page through scan/mdel rather than as a whole.
    return (async () => {
      let n = 0;
      for await (const page of this.scan(prefix)) n += await this.mdel(page);
      return n;
    })();
  }
  flush() {
    return this.guard.run('flush', () => this.inner.flush());
  }
  close() {
    this.guard.close();
    return this.inner.close();
  }
}

/** The optional fast paths of `inner` that it has, each through `guard` when it returns a promise (sets and leases: `forwardMembers`). */
function optionalMembers(inner: CacheStore, guard: CommandGuard): Partial<CacheStore> {
  const members: { -readonly [K in keyof CacheStore]?: CacheStore[K] } = {};
  const { getSync, peekLocal, setSync, getThen, setText, setThen } = inner;
  if (inner.shareReads !== undefined) members.shareReads = inner.shareReads;
  if (getSync !== undefined) members.getSync = (key) => getSync.call(inner, key);
  if (peekLocal !== undefined) members.peekLocal = (key) => peekLocal.call(inner, key);
  if (setSync !== undefined) members.setSync = (key, value, ttl) => setSync.call(inner, key, value, ttl);
  if (getThen !== undefined) {
    members.getThen = (key, onValue, onError) => guard.run('get', () => inner.get(key), onValue, onError);
  }
  if (setText !== undefined) members.setText = (key, text, ttl) => guard.run('set', () => setText.call(inner, key, text, ttl));
  if (setThen !== undefined) {
    members.setThen = (key, value, ttl, onError) =>
      guard.run(
        'set',
        () =>
          setThen.call(inner, key, value, ttl, (error) => {
            throw error;
          }),
        undefined,
        onError,
      );
  }
  return members;
}

/** The pages of `pages`, each bounded by `guard`. */
async function* guardedPages(guard: CommandGuard, operation: string, pages: AsyncIterable<string[]>): AsyncIterable<string[]> {
  const it = pages[Symbol.asyncIterator]();
  for (;;) {
    const next = await guard.run(operation, () => it.next());
    if (next.done) return;
    yield next.value;
  }
}

/** A reply that says "wrong type" or "syntax error" is the caller's problem, not the server's health. */
export function isCommandError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /^(ERR|WRONGTYPE)\b/.test(message) || (error as { name?: string })?.name === 'ErrorReply' || (error as { name?: string })?.name === 'ReplyError';
}
