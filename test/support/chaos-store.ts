import { type CacheStore, type StoreDefinition, StoreUnavailableError } from '../../lib/index.js';

/** Every member of `CacheStore` that does I/O, the optional fast paths included. */
export const CHAOS_OPERATIONS = [
  'get',
  'getSync',
  'peekLocal',
  'getThen',
  'set',
  'setSync',
  'setText',
  'setThen',
  'add',
  'delete',
  'has',
  'mget',
  'mset',
  'mdel',
  'incr',
  'touch',
  'ttl',
  'scan',
  'deleteByPrefix',
  'sadd',
  'sscan',
  'takeLease',
  'renewLease',
  'releaseLease',
  'watchLeases',
  'flush',
  'close',
] as const;

export type ChaosOperation = (typeof CHAOS_OPERATIONS)[number];

/** The function members of `CacheStore`: a member added to the contract fails the compile here until it is listed above. */
type StoreMethod = { [K in keyof CacheStore]-?: NonNullable<CacheStore[K]> extends (...args: never[]) => unknown ? K : never }[keyof CacheStore];
const everyMethodListed: [Exclude<StoreMethod, ChaosOperation>, Exclude<ChaosOperation, StoreMethod>] extends [never, never] ? true : never = true;
void everyMethodListed;

/** The optional members: the wrapper has one only when the inner store has it (the engine reads their presence as traits). */
export const OPTIONAL_OPERATIONS = [
  'getSync',
  'peekLocal',
  'getThen',
  'setSync',
  'setText',
  'setThen',
  'sadd',
  'sscan',
  'takeLease',
  'renewLease',
  'releaseLease',
  'watchLeases',
] as const satisfies readonly ChaosOperation[];

/** Options of `chaosStore`. */
export interface ChaosStoreOptions {
  /** The error of an injected failure. Default: a `StoreUnavailableError` naming the store and the operation. */
  error?: (operation: ChaosOperation, store: string) => Error;
  /** Sees every call as it is made (before any failure or delay), e.g. to record the keys of each `mget`. */
  onCall?: (operation: ChaosOperation, args: readonly unknown[]) => void;
  /**
   * Asked at each asynchronous call (and each page pull); a promise it returns is awaited before the call
   * reaches the store, e.g. `(op) => scheduler.schedule(Promise.resolve(op))` to let fast-check order calls.
   */
  gate?: (operation: ChaosOperation) => PromiseLike<unknown> | undefined;
}

/**
 * The switches of a chaos store, shared by every store its definition created. A failure is decided when
 * a call reaches the store (after any latency, freeze or gate), the way a server that went down fails the
 * calls still on their way.
 */
export class ChaosControl {
  /** Calls made per operation, failed ones included (`scan`/`sscan`: calls, not pages). */
  readonly calls = Object.fromEntries(CHAOS_OPERATIONS.map((op) => [op, 0])) as Record<ChaosOperation, number>;
  /** The wrappers created so far, in creation order. */
  readonly stores: CacheStore[] = [];
  private downOps: ReadonlySet<ChaosOperation> | undefined;
  private failures: { left: number; operations?: ReadonlySet<ChaosOperation> }[] = [];
  private delay = 0;
  private frozen: (() => void)[] | undefined;

  /**
   * Every operation fails until `up()` (or only `operations`). `close` is left out unless named: a store
   * releases its own connections even when its server is gone.
   */
  down(operations?: readonly ChaosOperation[]): void {
    this.downOps = new Set(operations ?? CHAOS_OPERATIONS.filter((op) => op !== 'close'));
  }

  /** Undoes `down()`. */
  up(): void {
    this.downOps = undefined;
  }

  /** The next `n` calls (of `operations`, default any but `close`) fail; then calls pass again. */
  failNext(n: number, operations?: readonly ChaosOperation[]): void {
    this.failures.push({ left: n, operations: new Set(operations ?? CHAOS_OPERATIONS.filter((op) => op !== 'close')) });
  }

  /** Asynchronous calls and page pulls wait `ms` before reaching the store; 0 turns it off. */
  latency(ms: number): void {
    this.delay = ms;
  }

  /**
   * Asynchronous calls and page pulls made from now on never settle until `thaw()` (to test timeouts).
   * Synchronous members cannot be held: they still answer (or fail while down).
   */
  freeze(): void {
    this.frozen ??= [];
  }

  /** Lets every call held by `freeze()` go on. */
  thaw(): void {
    const held = this.frozen ?? [];
    this.frozen = undefined;
    for (const release of held) release();
  }

  /** Back to a healthy store: up, no pending failures, no latency, thawed; counters at 0. */
  reset(): void {
    this.up();
    this.failures = [];
    this.delay = 0;
    this.thaw();
    for (const op of CHAOS_OPERATIONS) this.calls[op] = 0;
  }

  /** @internal The injected error of this call reaching the store, if it must fail. */
  failure(operation: ChaosOperation, store: string, options: ChaosStoreOptions): Error | undefined {
    let fails = this.downOps?.has(operation) === true;
    if (!fails) {
      const rule = this.failures.find((f) => f.left > 0 && f.operations?.has(operation));
      if (rule) {
        rule.left--;
        fails = true;
      }
      this.failures = this.failures.filter((f) => f.left > 0);
    }
    if (!fails) return undefined;
    return options.error?.(operation, store) ?? new StoreUnavailableError(store, `chaos: ${operation} failed (the store is down)`);
  }

  /** @internal What an asynchronous call waits for before reaching the store; `undefined` = nothing (no added tick). */
  hold(operation: ChaosOperation, options: ChaosStoreOptions): PromiseLike<unknown> | undefined {
    const gate = options.gate?.(operation);
    const frozen = this.frozen;
    const delay = this.delay;
    if (frozen === undefined && delay === 0) return gate;
    return (async () => {
      if (gate) await gate;
      if (frozen) await new Promise<void>((resolve) => frozen.push(resolve));
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    })();
  }
}

/** A chaos store: the definition to register, and its switches. */
export interface ChaosStore {
  definition: StoreDefinition;
  control: ChaosControl;
}

/**
 * Wraps every store `inner` creates so that tests can take it down, slow it, freeze it or fail the next
 * calls, and count calls per operation. Each member fails the way a real store does: synchronous ones
 * throw, asynchronous ones reject, `getThen`/`setThen` hand the error to `onError`, `scan`/`sscan` fail on
 * a page pull. The wrapper has exactly the optional members (and `shareReads`) of the inner store, so the
 * engine sees the same traits.
 *
 * @example
 * const { definition, control } = chaosStore(memoryStore());
 * const app = await boot(definition, [Reports]);
 * control.down(); // every call fails with StoreUnavailableError
 * control.up();
 */
export function chaosStore(inner: StoreDefinition, options: ChaosStoreOptions = {}): ChaosStore {
  const control = new ChaosControl();
  const definition: StoreDefinition = {
    ...inner,
    description: `chaos(${inner.description})`,
    create: async (alias, context) => {
      const store = wrapStore(await inner.create(alias, context), control, options);
      control.stores.push(store);
      return store;
    },
  };
  return { definition, control };
}

/** Wraps one store instance (several wrappers may share one control). */
export function wrapStore(inner: CacheStore, control: ChaosControl, options: ChaosStoreOptions = {}): CacheStore {
  const called = (op: ChaosOperation, args: readonly unknown[]) => {
    control.calls[op]++;
    options.onCall?.(op, args);
  };
  const promised =
    <R>(op: ChaosOperation, run: (...args: never[]) => Promise<R>) =>
    (...args: unknown[]): Promise<R> => {
      called(op, args);
      const go = () => {
        const error = control.failure(op, inner.name, options);
        return error ? Promise.reject(error) : (run as (...a: unknown[]) => Promise<R>).apply(inner, args);
      };
      const held = control.hold(op, options);
      return held === undefined ? go() : Promise.resolve(held).then(go);
    };
  const immediate =
    <R>(op: ChaosOperation, run: (...args: never[]) => R) =>
    (...args: unknown[]): R => {
      called(op, args);
      const error = control.failure(op, inner.name, options);
      if (error) throw error;
      return (run as (...a: unknown[]) => R).apply(inner, args);
    };
  const pages =
    (op: ChaosOperation, open: (...args: never[]) => AsyncIterable<string[]>) =>
    (...args: unknown[]): AsyncIterable<string[]> => {
      called(op, args);
      return (async function* () {
        let it: AsyncIterator<string[]> | undefined;
        try {
          for (;;) {
            const held = control.hold(op, options);
            if (held !== undefined) await held;
            const error = control.failure(op, inner.name, options);
            if (error) throw error;
            it ??= (open as (...a: unknown[]) => AsyncIterable<string[]>).apply(inner, args)[Symbol.asyncIterator]();
            const next = await it.next();
            if (next.done) return;
            yield next.value;
          }
        } finally {
          await it?.return?.();
        }
      })();
    };

  const store: CacheStore = {
    get name() {
      return inner.name;
    },
    get capabilities() {
      return inner.capabilities;
    },
    get: promised('get', inner.get),
    set: promised('set', inner.set),
    add: promised('add', inner.add),
    delete: promised('delete', inner.delete),
    has: promised('has', inner.has),
    mget: promised('mget', inner.mget),
    mset: promised('mset', inner.mset),
    mdel: promised('mdel', inner.mdel),
    incr: promised('incr', inner.incr),
    touch: promised('touch', inner.touch),
    ttl: promised('ttl', inner.ttl),
    scan: pages('scan', inner.scan),
    deleteByPrefix: promised('deleteByPrefix', inner.deleteByPrefix),
    flush: promised('flush', inner.flush),
    close: promised('close', inner.close),
  };
  if (inner.shareReads !== undefined) Object.defineProperty(store, 'shareReads', { get: () => inner.shareReads, enumerable: true });
  if (inner.getSync) store.getSync = immediate('getSync', inner.getSync);
  if (inner.peekLocal) store.peekLocal = immediate('peekLocal', inner.peekLocal);
  if (inner.setSync) store.setSync = immediate('setSync', inner.setSync);
  if (inner.setText) store.setText = promised('setText', inner.setText);
  if (inner.sadd) store.sadd = promised('sadd', inner.sadd);
  if (inner.sscan) store.sscan = pages('sscan', inner.sscan);
  if (inner.takeLease && inner.renewLease && inner.releaseLease && inner.watchLeases) {
    store.takeLease = promised('takeLease', inner.takeLease);
    store.renewLease = promised('renewLease', inner.renewLease);
    store.releaseLease = promised('releaseLease', inner.releaseLease);
    store.watchLeases = promised('watchLeases', inner.watchLeases);
  }
  if (inner.getThen) {
    store.getThen = <R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R> => {
      called('getThen', [key, onValue, onError]);
      const go = (): Promise<R> => {
        const error = control.failure('getThen', inner.name, options);
        // NOTE: a real store maps its failure inside its own promise: resolve to what onError returns.
        return error ? Promise.resolve(error).then(onError) : inner.getThen!(key, onValue, onError);
      };
      const held = control.hold('getThen', options);
      return held === undefined ? go() : Promise.resolve(held).then(go);
    };
  }
  if (inner.setThen) {
    store.setThen = (key, value, ttl, onError): Promise<void> => {
      called('setThen', [key, value, ttl, onError]);
      const go = () => {
        const error = control.failure('setThen', inner.name, options);
        return error ? Promise.resolve(error).then(onError) : inner.setThen!(key, value, ttl, onError);
      };
      const held = control.hold('setThen', options);
      return held === undefined ? go() : Promise.resolve(held).then(go);
    };
  }
  return store;
}
