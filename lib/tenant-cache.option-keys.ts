import { type InvalidOption, InvalidOptionsError } from './errors/invalid-options.error.js';

/**
 * The keys of an options interface, written as `{ key: true, ... }` so that the compiler fails when
 * the interface gains a key the list lacks (or the list names one the interface does not have): an
 * option added to an interface can never be refused at start-up as unknown.
 *
 * @example
 * const HEADER_KEYS = optionKeys<ResponseHeaderOptions>({ xCache: true, age: true, etag: true });
 */
export function optionKeys<T extends object>(keys: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/**
 * Finds the keys of an options object that are not options, with what to write instead: the
 * replacement named in `hints` (e.g. cache-manager's `ttl` -> `defaultTtl`), else a known name close in
 * spelling, else the list of known names. `path` prefixes each key in the report (`tenant.`).
 */
export function unknownKeys(value: unknown, known: readonly string[], path = '', hints: Readonly<Record<string, string>> = {}): InvalidOption[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const problems: InvalidOption[] = [];
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const hint = Object.prototype.hasOwnProperty.call(hints, key) ? hints[key] : undefined;
    const near = hint === undefined ? closestName(key, known) : undefined;
    problems.push({
      option: `${path}${key}`,
      problem: 'is not an option',
      fix: hint ?? (near !== undefined ? `Did you mean "${path}${near}"?` : `Known options${path ? ` of ${path.slice(0, -1)}` : ''}: ${known.join(', ')}.`),
    });
  }
  return problems;
}

/**
 * Throws one `InvalidOptionsError` listing every unknown key of a factory's options, named
 * `factory.key` (`memoryStore.maxEntires`), with the closest known name. For store and backend
 * factories: call it first thing, with the keys of the factory's options interface.
 *
 * @example
 * assertKnownOptions(options, ['maxEntries', 'maxBytes', 'maxValueBytes', 'dedicatedTenant', 'shareReads'], 'memoryStore');
 */
export function assertKnownOptions(options: unknown, known: readonly string[], factory: string, hints: Readonly<Record<string, string>> = {}): void {
  const problems = unknownKeys(options, known, `${factory}.`, hints);
  if (problems.length > 0) throw new InvalidOptionsError(problems);
}

/**
 * The known name closest in spelling to `word` (case-insensitive Damerau-Levenshtein distance of at
 * most a third of its length, at least 1), or `undefined` when none is that close.
 */
export function closestName(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(w.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(w, candidate.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
