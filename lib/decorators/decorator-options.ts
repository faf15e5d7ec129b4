import { unknownKeys } from '../tenant-cache.option-keys.js';

/** The option names of `@CacheResult` (an unknown one fails start-up). */
export const CACHE_RESULT_KEYS = [
  'key',
  'namespace',
  'ttl',
  'tags',
  'unless',
  'condition',
  'cacheNullish',
  'scope',
  'store',
  'codec',
  'iterable',
  'invalidatesOn',
] as const;

/** The option names of `@CacheEvict`. */
export const CACHE_EVICT_KEYS = ['target', 'method', 'args', 'partition', 'allEntries', 'tags', 'scope', 'store', 'beforeInvocation'] as const;

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
