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
}

/** The option names of `timeout: { ... }`. */
export const TIMEOUT_KEYS = optionKeys<LoaderTimeout>({ soft: true, hard: true });

/** The default `graceBackoff` (ms). */
export const DEFAULT_GRACE_BACKOFF = 5000;

/** The fail-safe of one call, validated; absent when the call has none (grace 0, no timeout). */
export interface FailSafePolicy {
  readonly grace: number;
  readonly backoff: number;
  readonly soft: number | undefined;
  readonly hard: number | undefined;
}

/**
 * The fail-safe policy of a call (`undefined`: none, today's behaviour), or a typed error naming the
 * wrong option. `prefix` names where the options come from (`@CacheResult on X.y: `).
 */
export function failSafePolicy(opts: FailSafeOptions, defaultGrace: number, prefix = ''): FailSafePolicy | undefined {
  const problems = failSafeProblems(opts, prefix);
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  const grace = opts.grace ?? defaultGrace;
  const timeout = opts.timeout;
  // NOTE: a grace given, even 0, makes the call check expiry itself: an entry another call kept for its grace is not fresh here.
  if (grace === 0 && opts.grace === undefined && (timeout === undefined || (timeout.soft === undefined && timeout.hard === undefined))) return undefined;
  return { grace, backoff: opts.graceBackoff ?? DEFAULT_GRACE_BACKOFF, soft: timeout?.soft, hard: timeout?.hard };
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

/** Whether an entry written at `cachedAt` is still fresh for a call whose TTL is `ttl` (`undefined` = no expiry). */
export function isFresh(cachedAt: number | undefined, ttl: number | undefined, now = Date.now()): boolean {
  return ttl === undefined || cachedAt === undefined || cachedAt + ttl > now;
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
