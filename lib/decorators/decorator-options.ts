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
