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

/** Keys over this many characters are replaced by their SHA-256, even when the store would take them. */
const MAX_LITERAL_KEY = 200;
const MAX_LITERAL_TENANT = 64;

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

  /** Scope prefixes of recent tenants: built (and hashed) once per tenant, not on every call. */
  private readonly tenantPrefixes = new Map<string, string>();
  /** Generation keys of recent tenants, likewise. */
  private readonly generationKeys = new Map<string, string>();

  private hmac(kind: string, value: string): string {
    return createHmac('sha256', this.hmacKey!).update(`${kind}\u0000${value}`).digest('hex');
  }

  /** The segment every key of a scope starts with (before the generation). */
  scopePrefix(scope: CacheScope): string {
    if (scope.kind === 'shared') return `${this.prefix}s:`;
    const t = scope.tenantId;
    if (this.dedicatedTenant !== undefined && t === this.dedicatedTenant) return `${this.prefix}d:`;
    let prefix = this.tenantPrefixes.get(t);
    if (prefix === undefined) {
      prefix = this.tenantPrefix(t);
      if (this.tenantPrefixes.size >= 10_000) this.tenantPrefixes.clear();
      this.tenantPrefixes.set(t, prefix);
    }
    return prefix;
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
    if (scope.kind === 'shared') return `${this.scopePrefix(scope)}gen`;
    let key = this.generationKeys.get(scope.tenantId);
    if (key === undefined) {
      key = `${this.scopePrefix(scope)}gen`;
      if (this.generationKeys.size >= 10_000) this.generationKeys.clear();
      this.generationKeys.set(scope.tenantId, key);
    }
    return key;
  }

  /** Key of a scope-level internal record (tag versions, tag indexes, ...). `name` must be internal. */
  metaKey(scope: CacheScope, kind: string, name: string): string {
    return `${this.scopePrefix(scope)}m:${kind}:${this.encode(name)}`;
  }

  /** The prefix of every entry of a scope in one generation. */
  entryPrefix(scope: CacheScope, generation: number): string {
    return `${this.scopePrefix(scope)}g${generation}:`;
  }

  /** Physical key of a logical key. Throws `InvalidCacheKeyError` for a non-string or empty key. */
  entryKey(scope: CacheScope, generation: number, key: string): string {
    assertKey(key);
    return this.entryPrefix(scope, generation) + this.encode(key);
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
