import { InvalidTagError } from '../errors/invalid-tag.error.js';

const VERSIONED = Symbol.for('nestjs-tenant-cache:versioned-tag');
const MAX_TAG_LENGTH = 1024;

/** A tag whose current version is part of the keys it tags: invalidating it is one increment. */
export interface VersionedTag {
  readonly [VERSIONED]: true;
  readonly name: string;
}

/** A tag as given to `getOrSet`, `set`, `invalidateTag`: a plain name or `versioned(name)`. */
export type TagInput = string | VersionedTag;

/**
 * A tag of a decorated method: a plain name, `versioned(name)`, or a function of the call's
 * arguments returning one, several, or none (`undefined`).
 */
export type TagSpec<A extends readonly unknown[] = readonly unknown[]> = TagInput | ((...args: A) => TagInput | readonly TagInput[] | undefined | null);

/** Tags resolved for one call, deduplicated. */
export interface ResolvedTags {
  readonly plain: readonly string[];
  readonly versioned: readonly string[];
}

export const NO_TAGS: ResolvedTags = Object.freeze({ plain: Object.freeze([]), versioned: Object.freeze([]) });

/**
 * A versioned tag. Entries tagged with it embed the tag's version in their key, so
 * `invalidateTag(versioned(name))` makes all of them unreachable with one atomic increment, however
 * many there are (they then expire by their TTL). The version counter starts at a random value and
 * never expires. Versioned and plain tags of the same name are distinct tags.
 *
 * @example
 * @CacheResult({ ttl: 60_000, tags: [versioned('catalog')] })
 * listProducts() { ... }
 * await cache.invalidateTag(versioned('catalog')); // resolves to the new version
 */
export function versioned(name: string): VersionedTag {
  assertTagName(name);
  return Object.freeze({ [VERSIONED]: true as const, name });
}

/** Whether a tag is `versioned(...)`. */
export function isVersionedTag(tag: unknown): tag is VersionedTag {
  return typeof tag === 'object' && tag !== null && (tag as Partial<VersionedTag>)[VERSIONED] === true;
}

/** Resolves tag inputs or specs for one call. `where` names the method in errors. */
export function resolveTags<A extends readonly unknown[]>(specs: readonly TagSpec<A>[] | undefined, args: A, where?: string): ResolvedTags {
  if (specs === undefined || specs.length === 0) return NO_TAGS;
  if (!Array.isArray(specs)) throw new InvalidTagError(`${prefix(where)}tags must be a list, got ${typeof specs}`);
  const plain = new Set<string>();
  const vers = new Set<string>();
  const add = (tag: unknown, origin: string) => {
    if (isVersionedTag(tag)) vers.add(tag.name);
    else if (typeof tag === 'string') {
      assertTagName(tag, where);
      plain.add(tag);
    } else {
      throw new InvalidTagError(`${prefix(where)}${origin} gave ${tag === null ? 'null' : typeof tag}; tags are strings or versioned(name)`);
    }
  };
  for (const spec of specs) {
    if (typeof spec !== 'function') {
      add(spec, 'a tag');
      continue;
    }
    let out: unknown;
    try {
      out = spec(...args);
    } catch (error) {
      throw new InvalidTagError(`${prefix(where)}a tag function threw: ${(error as Error).message}`, error);
    }
    if (out === undefined || out === null) continue;
    if (Array.isArray(out)) for (const t of out) add(t, 'a tag function');
    else add(out, 'a tag function');
  }
  return { plain: [...plain], versioned: [...vers].sort() };
}

function assertTagName(name: unknown, where?: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidTagError(`${prefix(where)}tag names are non-empty strings, got ${JSON.stringify(name) ?? typeof name}`);
  }
  if (name.length > MAX_TAG_LENGTH) throw new InvalidTagError(`${prefix(where)}tag names are at most ${MAX_TAG_LENGTH} characters`);
}

function prefix(where: string | undefined): string {
  return where ? `${where}: ` : '';
}

/**
 * Whether each tag name the application's decorators declare is plain or `versioned(name)`: a name is
 * one or the other in the whole application. Filled at start-up from `@CacheResult`, `@CacheEvict` and
 * `@CacheResponse` (their tags that are not functions); one per module instance.
 */
export class TagKinds {
  private readonly kinds = new Map<string, { versioned: boolean; where: string }>();

  /**
   * Records the static tags of a declaration. Throws `InvalidTagError` naming both places when a name
   * is already declared the other way.
   */
  declare(specs: readonly unknown[] | undefined, where: string): void {
    for (const spec of specs ?? []) {
      const isVersioned = isVersionedTag(spec);
      const name = isVersioned ? spec.name : spec;
      if (typeof name !== 'string') continue;
      const known = this.kinds.get(name);
      if (!known) this.kinds.set(name, { versioned: isVersioned, where });
      else if (known.versioned !== isVersioned) {
        const [v, p] = isVersioned ? [where, known.where] : [known.where, where];
        throw new InvalidTagError(
          `"${name}" is versioned('${name}') in ${v} and plain '${name}' in ${p}; a tag name is either plain or versioned in the ` +
            `whole application: write versioned('${name}') in both (or give one another name)`,
        );
      }
    }
  }

  /** Records the static tags of invalidation rules (`invalidatesOn`, `invalidation.rules`), like `declare`. */
  declareRules(rules: unknown, where: string): void {
    if (!Array.isArray(rules)) return;
    for (const rule of rules as { name?: unknown; tags?: unknown }[]) {
      if (!Array.isArray(rule?.tags)) continue;
      this.declare(rule.tags, typeof rule.name === 'string' ? `rule "${rule.name}" of ${where}` : `a rule of ${where}`);
    }
  }

  /** Whether the application declares `name` as `versioned(name)`. */
  isVersioned(name: string): boolean {
    return this.kinds.get(name)?.versioned === true;
  }

  /** The tag an invalidation acts on: a plain name the application declares versioned is `versioned(name)`. */
  resolve(tag: TagInput): TagInput {
    return typeof tag === 'string' && this.isVersioned(tag) ? versioned(tag) : tag;
  }

  /**
   * The specs with each tag function's plain names that the application declares versioned given as
   * `versioned(name)`, so that entries and responses tagged by a function are reached by the same
   * invalidation as those of the declarations (checked when each call resolves its tags).
   */
  adapt<A extends readonly unknown[]>(specs: readonly TagSpec<A>[]): readonly TagSpec<A>[] {
    if (!specs.some((s) => typeof s === 'function')) return specs;
    const resolveOne = (tag: unknown) => (typeof tag === 'string' ? this.resolve(tag) : tag);
    return specs.map((spec) => {
      if (typeof spec !== 'function') return spec;
      const adapted = (...args: A) => {
        const out = spec(...args);
        if (this.kinds.size === 0 || out === undefined || out === null) return out;
        return (Array.isArray(out) ? out.map(resolveOne) : resolveOne(out)) as TagInput | readonly TagInput[];
      };
      return adapted;
    });
  }
}
