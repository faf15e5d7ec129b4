import { validateCodecCallOptions } from '../codec/codec.options.js';
import { InvalidKeyConstructorError } from '../errors/invalid-key-constructor.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { TIMEOUT_KEYS, failSafeProblems } from '../engine/fail-safe.js';
import { singleFlightProblems } from '../engine/single-flight.options.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import type { CacheResultConfig } from '../service/cached-method.js';
import { CACHE_RESULT_KEYS, ITERABLE_KEYS, describeUnknownKeys, validateStore, validateTags, validateTtl } from './decorator-options.js';
import type { RecordedCacheResult } from './tenant-cache-metadata.accessor.js';

/**
 * Checks the options of one `@CacheResult` and turns them into the cached method's config; a bad
 * option throws a typed error naming the method (`label`), so start-up fails.
 */
export function validateCacheResult(engine: CacheEngine, label: string, options: RecordedCacheResult): CacheResultConfig {
  if (typeof options !== 'object' || options === null) throw new InvalidKeyConstructorError(label, 'options must be an object');
  const fail = (problem: string) => new InvalidKeyConstructorError(label, problem);
  const unknown = describeUnknownKeys(options, CACHE_RESULT_KEYS, { iterable: ITERABLE_KEYS, timeout: TIMEOUT_KEYS });
  if (unknown) throw fail(unknown);
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace.length === 0)) {
    throw fail('namespace must be a non-empty string');
  }
  validateTtl(engine, options.ttl, label);
  for (const fn of ['unless', 'condition'] as const) {
    if (options[fn] !== undefined && typeof options[fn] !== 'function') throw fail(`${fn} must be a function`);
  }
  const scope = options.scope ?? 'tenant';
  if (scope !== 'tenant' && scope !== 'shared') throw fail(`scope must be "tenant" or "shared", got ${JSON.stringify(scope)}`);
  validateStore(engine, options.store, label);
  if (options.l1 !== undefined && typeof options.l1 !== 'boolean') throw fail(`l1 must be true or false, got ${JSON.stringify(options.l1)}`);
  try {
    validateCodecCallOptions(options.codec, 'codec');
  } catch (error) {
    throw fail((error as Error).message);
  }
  const failSafe = failSafeProblems(options, `${label}: `);
  if (failSafe.length > 0) throw new InvalidOptionsError(failSafe);
  const flight = singleFlightProblems(options.singleFlight, `${label}: singleFlight`);
  if (flight.length > 0) throw new InvalidOptionsError(flight.map(([option, problem, fix]) => ({ option, problem, fix })));
  const iterable = validateIterable(options, fail);
  return {
    iterable,
    codec: options.codec,
    ttl: options.ttl,
    tags: validateTags(label, options.tags),
    unless: options.unless as ((result: unknown) => boolean) | undefined,
    condition: options.condition as ((...args: unknown[]) => boolean) | undefined,
    cacheNullish: options.cacheNullish === true,
    scope,
    store: options.store,
    grace: options.grace,
    graceBackoff: options.graceBackoff,
    timeout: options.timeout,
    staleWhileRevalidate: options.staleWhileRevalidate,
    refreshAhead: options.refreshAhead,
    ttlJitter: options.ttlJitter,
    singleFlight: options.singleFlight,
    l1: options.l1,
  };
}

/** `iterable`: `true` or `{ pageBytes }`, and none of the options that only apply to a single value. */
function validateIterable(options: RecordedCacheResult, fail: (problem: string) => Error): { pageBytes?: number } | undefined {
  const it = options.iterable;
  if (it === undefined || it === false) return undefined;
  if (it !== true && (typeof it !== 'object' || it === null)) throw fail('iterable must be true or { pageBytes }');
  for (const o of ['tags', 'unless', 'cacheNullish', 'grace', 'graceBackoff', 'timeout', 'staleWhileRevalidate', 'refreshAhead', 'ttlJitter'] as const) {
    if (options[o] !== undefined) throw fail(`${o} does not apply to an iterable method; remove it (invalidate the entry by its arguments instead)`);
  }
  const pageBytes = it === true ? undefined : it.pageBytes;
  if (pageBytes !== undefined && (!Number.isSafeInteger(pageBytes) || pageBytes <= 0)) {
    throw fail(`iterable.pageBytes must be a positive whole number of bytes, got ${String(pageBytes)}`);
  }
  return { pageBytes };
}
