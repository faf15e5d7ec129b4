import { createHash, createHmac } from 'node:crypto';
import { InvalidCacheKeyError } from '../errors/invalid-cache-key.error.js';

/** Whose entries a key belongs to: one tenant, or the explicit shared namespace. */
export type CacheScope = { readonly kind: 'tenant'; readonly tenantId: string } | { readonly kind: 'shared' };

/** Limits a store puts on physical keys; longer or rejected keys are hashed. */
export interface KeyLimits {
  maxKeyLength: number;
  /** Characters the store accepts in a key; `undefined` = any. */
  allowedKey?: RegExp;
}

export const SHARED_SCOPE: CacheScope = Object.freeze({ kind: 'shared' });

/** Tenants whose key segments are kept; past this, they are all built again on next use. */
const MAX_CACHED_TENANTS = 10_000;
/** Physical keys remembered across all scopes; past this, they are all built again on next use. */
const MAX_CACHED_KEYS = 50_000;

/** The key segments of one scope. */
interface ScopeKeys {
  /** `<prefix><scope>`, before the generation. */
  readonly prefix: string;
  readonly generationKey: string;
  /** The generation `entryPrefix` and `entries` were built for. */
  generation: number;
  entryPrefix: string;
  /** Physical keys by logical key, in `generation`. */
  readonly entries: Map<string, string>;
}

function newScopeKeys(prefix: string): ScopeKeys {
  return { prefix, generationKey: `${prefix}gen`, generation: Number.NaN, entryPrefix: '', entries: new Map() };
}

/** Keys over this many characters are replaced by their SHA-256, even when the store would take them. */
const MAX_LITERAL_KEY = 200;
const MAX_LITERAL_TENANT = 64;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

export function sha256(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}

/**
 * Builds physical keys. The layout is
 * `<prefix><scope>g<generation>:<key>` where scope is `t<length>:<tenant>:` (or `T<sha256>:` for a long tenant id)
 * or `s:` for shared, and key is `k:<key>` or `h:<sha256(key)>`. The length prefix makes the tenant
 * segment self-delimiting, so no tenant id or key, whatever characters it holds, can reach into the other's
 * segment: distinct (scope, key) pairs always give distinct physical keys.
 */
export class KeyBuilder {
  constructor(
    readonly prefix: string,
    private readonly limits: KeyLimits,
    /** Set for a store reserved to one tenant: its keys carry no tenant segment. */
    private readonly dedicatedTenant?: string,
    /**
     * Set (codec `hashKeys`): tenant ids and keys appear in physical keys only as their HMAC-SHA256
     * (`T<hmac>:`, `h:<hmac>`), so a physical key carries no identifying information.
     */
    private readonly hmacKey?: Buffer,
  ) {}

  /** The key segments of recent tenants, built (and hashed) once per tenant, not on every call. */
  private readonly tenants = new Map<string, ScopeKeys>();
  private shared?: ScopeKeys;
  /** Physical keys held in every `ScopeKeys.entries`, against `MAX_CACHED_KEYS`. */
  private cachedKeys = 0;

  private hmac(kind: string, value: string): string {
    return createHmac('sha256', this.hmacKey!).update(`${kind}\u0000${value}`).digest('hex');
  }

  /** The segments of one scope, built on first use. */
  private scopeKeys(scope: CacheScope): ScopeKeys {
    if (scope.kind === 'shared') return (this.shared ??= newScopeKeys(`${this.prefix}s:`));
    const t = scope.tenantId;
    let s = this.tenants.get(t);
    if (s === undefined) {
      s = newScopeKeys(this.dedicatedTenant !== undefined && t === this.dedicatedTenant ? `${this.prefix}d:` : this.tenantPrefix(t));
      if (this.tenants.size >= MAX_CACHED_TENANTS) this.forgetTenants();
      this.tenants.set(t, s);
    }
    return s;
  }

  private forgetTenants(): void {
    this.tenants.clear();
    this.cachedKeys = this.shared?.entries.size ?? 0;
  }

  /** The segment every key of a scope starts with (before the generation). */
  scopePrefix(scope: CacheScope): string {
    return this.scopeKeys(scope).prefix;
  }

  private tenantPrefix(t: string): string {
    if (this.hmacKey) return `${this.prefix}T${this.hmac('t', t)}:`;
    if (t.length > MAX_LITERAL_TENANT || (this.limits.allowedKey && !this.limits.allowedKey.test(t))) {
      return `${this.prefix}T${sha256(t)}:`;
    }
    return `${this.prefix}t${t.length}:${t}:`;
  }

  /** Key of the scope's generation counter (see `invalidateAll`). Never shaped like an entry key. */
  generationKey(scope: CacheScope): string {
    return this.scopeKeys(scope).generationKey;
  }

  /** Key of a scope-level internal record (tag versions, tag indexes, ...). `name` must be internal. */
  metaKey(scope: CacheScope, kind: string, name: string): string {
    return `${this.scopePrefix(scope)}m:${kind}:${this.encode(name)}`;
  }

  /**
   * A plain tag's id in keys and in the tag stamps of entries: `encode(tag)` when that is printable
   * ASCII, else `h:<sha256(tag)>` (a stamp is ASCII, so a text entry stays valid UTF-8).
   */
  tagId(tag: string): string {
    const id = this.encode(tag);
    return PRINTABLE_ASCII.test(id) ? id : `h:${sha256(tag)}`;
  }

  /**
   * Key of a plain tag's invalidation version in a scope (`invalidateTag` moves it on; an entry stamped
   * with another version is a miss). `tagId` is `tagId(tag)`, as read from an entry's stamp.
   */
  tagVersionKey(scope: CacheScope, tagId: string): string {
    return `${this.scopePrefix(scope)}m:tp:${tagId}`;
  }

  /** The prefix of every entry of a scope in one generation. */
  entryPrefix(scope: CacheScope, generation: number): string {
    return this.atGeneration(this.scopeKeys(scope), generation).entryPrefix;
  }

  /**
   * Physical key of a logical key. Throws `InvalidCacheKeyError` for a non-string or empty key.
   * Recent keys are remembered per scope and generation: the same string comes back, so stores look it up
   * without building and hashing it again (and long keys are not hashed with SHA-256 again).
   */
  entryKey(scope: CacheScope, generation: number, key: string): string {
    assertKey(key);
    const s = this.atGeneration(this.scopeKeys(scope), generation);
    let physical = s.entries.get(key);
    if (physical === undefined) {
      physical = s.entryPrefix + this.encode(key);
      if (this.cachedKeys >= MAX_CACHED_KEYS) this.forgetKeys();
      s.entries.set(key, physical);
      this.cachedKeys++;
    }
    return physical;
  }

  /** `s`, with the entry prefix of `generation` (a new generation drops the keys of the old one). */
  private atGeneration(s: ScopeKeys, generation: number): ScopeKeys {
    if (s.generation !== generation) {
      s.generation = generation;
      s.entryPrefix = `${s.prefix}g${generation}:`;
      this.cachedKeys -= s.entries.size;
      s.entries.clear();
    }
    return s;
  }

  private forgetKeys(): void {
    for (const s of this.tenants.values()) s.entries.clear();
    this.shared?.entries.clear();
    this.cachedKeys = 0;
  }

  /** `k:<key>` when the store takes it as is, else `h:<sha256>`. */
  encode(key: string): string {
    if (this.hmacKey) return `h:${this.hmac('k', key)}`;
    const literal = `k:${key}`;
    const overhead = this.prefix.length + 100;
    if (
      key.length > MAX_LITERAL_KEY ||
      literal.length + overhead > this.limits.maxKeyLength ||
      (this.limits.allowedKey !== undefined && !this.limits.allowedKey.test(key))
    ) {
      return `h:${sha256(key)}`;
    }
    return literal;
  }

  /** Whether `key` would be stored literally, so a prefix scan can find it. */
  isLiteral(key: string): boolean {
    return this.encode(key).startsWith('k:');
  }
}

/** Throws unless `key` is a non-empty string. */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidCacheKeyError(`keys are strings, got ${key === null ? 'null' : typeof key}`);
  if (key.length === 0) throw new InvalidCacheKeyError('keys must not be empty', key);
}

/** Escapes Redis glob characters so a prefix is matched literally (`4*` cannot match `42`). */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
