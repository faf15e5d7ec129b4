import { InvalidOptionsError, type InvalidOption } from '../errors/invalid-options.error.js';
import { optionKeys, unknownKeys } from '../tenant-cache.option-keys.js';

/** Loader time limits of a read-through (ms). */
export interface LoaderTimeout {
  /** Past it, a stale value within grace is returned while the loader goes on in the background. */
  soft?: number;
  /** Past it, the stale value within grace is returned, else the call fails with `LoaderTimeoutError`. */
  hard?: number;
}

/** The fail-safe options of a read-through (`getOrSet`, `fetch`, `@CacheResult`). */
export interface FailSafeOptions {
  /**
   * How long (ms) an entry is kept past its TTL, to be served stale when the loader fails or times out.
   * Default: the module's `grace` (0 = no fail-safe). Invalidated entries are never served stale.
   */
  grace?: number;
  /** After a failed load served stale, how long (ms) the stale value is served without calling the loader. Default 5000. */
  graceBackoff?: number;
  /** Loader time limits (ms). */
  timeout?: LoaderTimeout;
  /**
   * How long (ms) past its TTL an entry is served at hit latency (stale) while one background load
   * refreshes it. Default: the module's `staleWhileRevalidate` (0 = none).
   */
  staleWhileRevalidate?: number;
  /**
   * A fraction of the TTL in (0, 1), e.g. 0.8: a hit on an entry older than that returns it and starts
   * one background refresh. 0 = none. Default: the module's `refreshAhead`.
   */
  refreshAhead?: number;
  /**
   * A fraction in [0, 1), e.g. 0.1: the TTL of each key is moved by up to +/- that fraction, derived from
   * the key (readers and writers agree), so entries written together do not expire together. Default:
   * the module's `ttlJitter` (0 = none).
   */
  ttlJitter?: number;
}

/** Whether an entry written at `cachedAt` is younger than `ttl` (no jitter: see `JitteredTtls`); no ttl or no time = fresh. */
export function isFresh(cachedAt: number | undefined, ttl: number | undefined, now = Date.now()): boolean {
  return ttl === undefined || cachedAt === undefined || cachedAt + ttl > now;
}

/** The module's defaults of the read-through's fail-safe options (missing = 0, none). */
export interface FailSafeDefaults {
  readonly grace?: number;
  readonly staleWhileRevalidate?: number;
  readonly refreshAhead?: number;
  readonly ttlJitter?: number;
}

/** The option names of `timeout: { ... }`. */
export const TIMEOUT_KEYS = optionKeys<LoaderTimeout>({ soft: true, hard: true });

/** The default `graceBackoff` (ms). */
export const DEFAULT_GRACE_BACKOFF = 5000;

/** The fail-safe of one call, validated; absent when the call has none (grace 0, no timeout, no SWR). */
export interface FailSafePolicy {
  readonly grace: number;
  readonly backoff: number;
  readonly soft: number | undefined;
  readonly hard: number | undefined;
  /** `staleWhileRevalidate` (ms; 0 = none). */
  readonly swr: number;
  /** `refreshAhead` (a fraction of the TTL; 0 = none). */
  readonly ahead: number;
  /** `ttlJitter` (a fraction of the TTL; 0 = none). */
  readonly jitter: number;
  /** How long past its (jittered) TTL the store keeps an entry: max(grace, staleWhileRevalidate). */
  readonly keep: number;
}

/**
 * The fail-safe policy of a call (`undefined`: none, today's behaviour), or a typed error naming the
 * wrong option. `prefix` names where the options come from (`@CacheResult on X.y: `).
 */
export function failSafePolicy(opts: FailSafeOptions, defaults: FailSafeDefaults, prefix = ''): FailSafePolicy | undefined {
  const problems = failSafeProblems(opts, prefix);
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  const grace = opts.grace ?? defaults.grace ?? 0;
  const swr = opts.staleWhileRevalidate ?? defaults.staleWhileRevalidate ?? 0;
  const ahead = opts.refreshAhead ?? defaults.refreshAhead ?? 0;
  const jitter = opts.ttlJitter ?? defaults.ttlJitter ?? 0;
  const timeout = opts.timeout;
  // NOTE: a grace or SWR window given, even 0, makes the call check expiry itself: an entry another call
  // kept past its TTL (for its grace or window) is not fresh here.
  if (
    grace === 0 &&
    opts.grace === undefined &&
    opts.staleWhileRevalidate === undefined &&
    swr === 0 &&
    ahead === 0 &&
    jitter === 0 &&
    (timeout === undefined || (timeout.soft === undefined && timeout.hard === undefined))
  ) {
    return undefined;
  }
  return { grace, backoff: opts.graceBackoff ?? DEFAULT_GRACE_BACKOFF, soft: timeout?.soft, hard: timeout?.hard, swr, ahead, jitter, keep: Math.max(grace, swr) };
}

/** Every problem of the fail-safe options (negative or non-finite numbers, unknown keys of `timeout`). */
export function failSafeProblems(opts: FailSafeOptions, prefix = ''): InvalidOption[] {
  const problems: InvalidOption[] = [];
  const check = (name: string, value: unknown) => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      problems.push({ option: `${prefix}${name}`, problem: `is ${String(value)}`, fix: 'Give a finite number of milliseconds >= 0, or leave it out.' });
    }
  };
  check('grace', opts.grace);
  check('graceBackoff', opts.graceBackoff);
  check('staleWhileRevalidate', opts.staleWhileRevalidate);
  const fraction = (name: string, value: unknown, max: string) => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
      problems.push({ option: `${prefix}${name}`, problem: `is ${String(value)}`, fix: `Give a fraction of the TTL ${max} (0 = none), or leave it out.` });
    }
  };
  fraction('refreshAhead', opts.refreshAhead, 'in (0, 1), e.g. 0.8');
  fraction('ttlJitter', opts.ttlJitter, 'in [0, 1), e.g. 0.1');
  const timeout: unknown = opts.timeout;
  if (timeout !== undefined) {
    if (typeof timeout !== 'object' || timeout === null || Array.isArray(timeout)) {
      problems.push({ option: `${prefix}timeout`, problem: 'must be an object', fix: 'Write timeout: { soft: 100, hard: 2000 } (milliseconds).' });
    } else {
      problems.push(...unknownKeys(timeout, TIMEOUT_KEYS, `${prefix}timeout.`));
      const t = timeout as LoaderTimeout;
      check('timeout.soft', t.soft);
      check('timeout.hard', t.hard);
      if (problems.length === 0 && t.soft !== undefined && t.hard !== undefined && t.soft > t.hard) {
        problems.push({ option: `${prefix}timeout.soft`, problem: `(${t.soft}) is past timeout.hard (${t.hard})`, fix: 'Give a soft timeout <= the hard one.' });
      }
    }
  }
  return problems;
}

/**
 * TTLs moved by up to +/- a fraction, per key. The move is derived from the physical key (FNV-1a), not
 * drawn at random: the reader of an entry computes the same TTL as its writer, so an entry is fresh until
 * exactly `cachedAt + ttl(...)`, with nothing new recorded in the entry. The unit of recent keys is kept
 * (bounded), so a hit does not hash its key again.
 */
export class JitteredTtls {
  private readonly units = new Map<string, number>();

  constructor(private readonly max = 10_000) {}

  /** `ttl` moved by up to +/- `jitter` of it, the same for every caller of `physicalKey`. */
  ttl(ttl: number, jitter: number, physicalKey: string): number {
    if (jitter === 0) return ttl;
    let unit = this.units.get(physicalKey);
    if (unit === undefined) {
      let h = 0x811c9dc5;
      for (let i = 0; i < physicalKey.length; i++) h = Math.imul(h ^ physicalKey.charCodeAt(i), 0x01000193);
      unit = (h >>> 0) / 0x80000000 - 1; // in [-1, 1)
      if (this.units.size >= this.max) this.units.clear();
      this.units.set(physicalKey, unit);
    }
    return Math.max(1, Math.round(ttl * (1 + jitter * unit)));
  }
}

/**
 * The keys whose loader failed while a stale value was served: the loader is not called for them again
 * before their backoff ends. Bounded: the oldest record goes first when full.
 */
export class GraceBackoffs {
  private readonly until = new Map<string, number>();

  constructor(private readonly max = 10_000) {}

  /** Whether `key`'s backoff is running (an ended one is forgotten). */
  active(key: string, now = Date.now()): boolean {
    const end = this.until.get(key);
    if (end === undefined) return false;
    if (end > now) return true;
    this.until.delete(key);
    return false;
  }

  start(key: string, ms: number, now = Date.now()): void {
    if (ms <= 0) return;
    this.until.delete(key);
    if (this.until.size >= this.max) this.until.delete(this.until.keys().next().value as string);
    this.until.set(key, now + ms);
  }

  end(key: string): void {
    this.until.delete(key);
  }
}

/** What a race of a load against its timeouts gave: the load's settled result, or which timeout passed first. */
export type Raced<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'soft' | 'hard' };

/**
 * Races `work` against the `soft` and `hard` timeouts (ms; either may be absent). Timers are `unref`'d
 * and cleared as soon as the race is decided: nothing stays pending, nothing keeps the process alive.
 */
export function raceTimeouts<T>(work: Promise<T>, soft: number | undefined, hard: number | undefined): Promise<Raced<T>> {
  return new Promise<Raced<T>>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const decide = (outcome: Raced<T>) => {
      for (const timer of timers) clearTimeout(timer);
      timers.length = 0;
      resolve(outcome);
    };
    for (const [kind, ms] of [
      ['soft', soft],
      ['hard', hard],
    ] as const) {
      if (ms !== undefined) timers.push(setTimeout(() => decide({ kind }), ms).unref());
    }
    work.then(
      (value) => decide({ kind: 'done', value }),
      (error: unknown) => decide({ kind: 'failed', error }),
    );
  });
}

/** Settles when `p` settles or after `ms` (an `unref`'d timer, cleared when `p` settles first). */
export function settledOrAfter(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms)).unref();
    const end = () => {
      clearTimeout(timer);
      resolve();
    };
    p.then(end, end);
  });
}
