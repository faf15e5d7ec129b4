import { InvalidKeyConstructorError } from '../errors/invalid-key-constructor.error.js';
import { InvalidTtlError } from '../errors/invalid-ttl.error.js';
import { UnknownStoreError } from '../errors/unknown-store.error.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { type TagSpec, isVersionedTag, resolveTags } from '../engine/tags.js';
import { optionKeys, unknownKeys } from '../tenant-cache.option-keys.js';
import type { CacheEvictOptions } from './cache-evict.decorator.js';
import type { CacheResultOptions } from './cache-result.decorator.js';

/** The option names of `@CacheResult` (an unknown one fails start-up). */
export const CACHE_RESULT_KEYS = optionKeys<CacheResultOptions>({
  key: true,
  namespace: true,
  ttl: true,
  tags: true,
  unless: true,
  condition: true,
  cacheNullish: true,
  scope: true,
  store: true,
  codec: true,
  iterable: true,
  invalidatesOn: true,
  grace: true,
  graceBackoff: true,
  timeout: true,
  staleWhileRevalidate: true,
  refreshAhead: true,
  ttlJitter: true,
  singleFlight: true,
  l1: true,
});

/** The option names of `iterable: { ... }`. */
export const ITERABLE_KEYS = optionKeys<Exclude<NonNullable<CacheResultOptions['iterable']>, boolean>>({ pageBytes: true });

/** The option names of `@CacheEvict`. */
export const CACHE_EVICT_KEYS = optionKeys<CacheEvictOptions>({
  target: true,
  method: true,
  args: true,
  partition: true,
  allEntries: true,
  tags: true,
  scope: true,
  store: true,
  beforeInvocation: true,
});

/**
 * The unknown keys of a decorator's options (and of its nested option objects, by name), as one
 * sentence per key with the closest known name; `undefined` when every key is known.
 */
export function describeUnknownKeys(
  options: object,
  known: readonly string[],
  nested: Readonly<Record<string, readonly string[]>> = {},
  hints: Readonly<Record<string, string>> = {},
): string | undefined {
  const problems = unknownKeys(options, known, '', hints);
  for (const [name, keys] of Object.entries(nested)) problems.push(...unknownKeys((options as Record<string, unknown>)[name], keys, `${name}.`));
  if (problems.length === 0) return undefined;
  return problems.map((p) => `option "${p.option}" ${p.problem}. ${p.fix}`).join(' ');
}

/** A decorator's `tags`: names, `versioned(name)` or functions; the static ones must resolve. */
export function validateTags(label: string, tags: unknown): readonly TagSpec[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new InvalidKeyConstructorError(label, 'tags must be a list');
  for (const t of tags) {
    if (typeof t === 'function') continue;
    if (typeof t !== 'string' && !isVersionedTag(t)) {
      throw new InvalidKeyConstructorError(label, `tags hold names, versioned(name) or functions, got ${t === null ? 'null' : typeof t}`);
    }
  }
  try {
    resolveTags(tags.filter((t) => typeof t !== 'function') as TagSpec[], []);
  } catch (error) {
    throw new InvalidKeyConstructorError(label, (error as Error).message, error);
  }
  return tags as TagSpec[];
}

/** A decorator's `store`: an alias of the module's stores. */
export function validateStore(engine: CacheEngine, alias: string | undefined, label: string): void {
  if (alias !== undefined && !(typeof alias === 'string' && Object.prototype.hasOwnProperty.call(engine.options.stores, alias))) {
    throw new UnknownStoreError(String(alias), Object.keys(engine.options.stores), label);
  }
}

/** A decorator's `ttl`, checked the way the engine reads it (the error names the method). */
export function validateTtl(engine: CacheEngine, ttl: number | undefined, label: string): void {
  if (ttl === undefined) return;
  try {
    engine.ttl(ttl);
  } catch (error) {
    if (error instanceof InvalidTtlError) throw new InvalidTtlError(ttl, label);
    throw error;
  }
}
