import { createHmac } from 'node:crypto';
import { InvalidCacheKeyError } from '../errors/invalid-cache-key.error.js';
import {
  DEDICATED_SEGMENT,
  HASHED_ENTRY,
  LITERAL_ENTRY,
  SHARED_SEGMENT,
  chunkKeyBase,
  entryPrefixOf,
  generationCounterKey,
  generationPrefix,
  hashedTenantSegment,
  metaSuffix,
  tenantSegment,
} from './key-layout.js';
import { sha256 } from './sha256.js';

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
  return { prefix, generationKey: generationCounterKey(prefix), generation: Number.NaN, entryPrefix: '', entries: new Map() };
}

/** Keys over this many characters are replaced by their SHA-256, even when the store would take them. */
const MAX_LITERAL_KEY = 200;
const MAX_LITERAL_TENANT = 64;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * The key format: which layout of entry keys this build writes. Format 1 wrote `k:<key>` with the key as
 * it was (control characters included: `redis-cli --scan` printed them as truncated lines) and
 * `h:<hash>`; format 2 writes `k2:<escaped key>` and `h2:<hash>`. Entries of format 1 are never
 * addressed again: they are misses, and expire. (Hashed entries move too: the meta keys of tags whose
 * names hold escaped characters changed, so an old entry listed under the old tag index must not be read.)
 */
export const KEY_FORMAT_VERSION = 2;
export { HASHED_ENTRY };

/** Characters that stay as they are in a physical key: printable ASCII except space and the escape `%`. */
const NEEDS_ESCAPE = /[^\x21-\x24\x26-\x7e]/;

/**
 * `text` with every character outside printable ASCII (and space, and `%`) written as `%XX` (below U+0080)
 * or `%uXXXX` (a UTF-16 code unit, upper-case hex). One character at a time, so it is injective (`%` itself
 * is escaped, and `u` is not a hex digit) and keeps prefixes: `escapeKey(a + b) === escapeKey(a) + escapeKey(b)`,
 * which prefix scans rely on.
 */
export function escapeKey(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x21 && c <= 0x7e && c !== 0x25) out += text[i];
    else if (c < 0x80) out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += `%u${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** The text `escapeKey` was given, or `undefined` when `escaped` is not one of its outputs. */
export function unescapeKey(escaped: string): string | undefined {
  if (!escaped.includes('%')) return NEEDS_ESCAPE.test(escaped) ? undefined : escaped;
  let out = '';
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i]!;
    if (ch !== '%') {
      if (NEEDS_ESCAPE.test(ch)) return undefined;
      out += ch;
      continue;
    }
    const wide = escaped[i + 1] === 'u';
    const hex = wide ? escaped.slice(i + 2, i + 6) : escaped.slice(i + 1, i + 3);
    if (!/^[0-9A-F]+$/.test(hex) || hex.length !== (wide ? 4 : 2)) return undefined;
    const c = parseInt(hex, 16);
    if (wide ? c < 0x80 : c >= 0x80 || (c >= 0x21 && c <= 0x7e && c !== 0x25)) return undefined;
    out += String.fromCharCode(c);
    i += wide ? 5 : 2;
  }
  return out;
}

/**
 * Builds physical keys. The layout (key format 2, see `KEY_FORMAT_VERSION`) is
 * `<prefix><scope>g<generation>:<key>` where scope is `t<length>:<tenant>:` (or `T<sha256>:` for a long tenant id)
 * or `s:` for shared, and key is `k2:<escaped key>` or `h2:<sha256(key)>`. The length prefix makes the tenant
 * segment self-delimiting, so no tenant id or key, whatever characters it holds, can reach into the other's
 * segment: distinct (scope, key) pairs always give distinct physical keys. Tenant ids and keys are escaped
 * (`escapeKey`: `%XX`, `%uXXXX`), so every physical key is printable ASCII without spaces and can be copied
 * from `redis-cli --scan` into `GET`; the escape is injective, so it keeps pairs apart.
 * Meta keys (`<prefix><scope>m:<kind>:k:<escaped name>`) keep the `k:` marker: for names with nothing to escape
 * (every tag name of printable ASCII) they are the keys format 1 wrote, so tag versions carry over.
 */
export class KeyBuilder {
  constructor(
    readonly prefix: string,
    private readonly limits: KeyLimits,
    /** Set for a store reserved to one tenant: its keys carry no tenant segment. */
    private readonly dedicatedTenant?: string,
    /**
     * Set (codec `hashKeys`): tenant ids and keys appear in physical keys only as their HMAC-SHA256
     * (`T<hmac>:`, `h2:<hmac>`), so a physical key carries no identifying information.
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
    if (scope.kind === 'shared') return (this.shared ??= newScopeKeys(this.prefix + SHARED_SEGMENT));
    const t = scope.tenantId;
    let s = this.tenants.get(t);
    if (s === undefined) {
      s = newScopeKeys(this.dedicatedTenant !== undefined && t === this.dedicatedTenant ? this.prefix + DEDICATED_SEGMENT : this.tenantPrefix(t));
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
    if (this.hmacKey) return this.prefix + hashedTenantSegment(this.hmac('t', t));
    const escaped = escapeKey(t);
    if (escaped.length > MAX_LITERAL_TENANT || (this.limits.allowedKey && !this.limits.allowedKey.test(escaped))) {
      return this.prefix + hashedTenantSegment(sha256(t));
    }
    return this.prefix + tenantSegment(escaped);
  }

  /** Key of the scope's generation counter (see `invalidateAll`). Never shaped like an entry key. */
  generationKey(scope: CacheScope): string {
    return this.scopeKeys(scope).generationKey;
  }

  /** Key of a scope-level internal record (tag versions, tag indexes, ...). `name` must be internal. */
  metaKey(scope: CacheScope, kind: string, name: string): string {
    return this.scopePrefix(scope) + metaSuffix(kind, this.encode(name));
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
    return this.scopePrefix(scope) + metaSuffix('tp', tagId);
  }

  /** Key of a plain tag's last soft invalidation in a scope (`invalidateTag(tag, { soft: true })`; see `TagStamps`). */
  tagSoftKey(scope: CacheScope, tagId: string): string {
    return this.scopePrefix(scope) + metaSuffix('ts', tagId);
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
      physical = s.entryPrefix + this.encodeEntry(key);
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
      s.entryPrefix = generationPrefix(s.prefix, generation);
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

  /** The name part of a meta key: `k:<escaped name>` when the store takes it as is, else `h:<sha256>`. */
  encode(name: string): string {
    if (this.hmacKey) return `h:${this.hmac('k', name)}`;
    return this.literalOrHash('k:', 'h:', name);
  }

  /** The key part of an entry key: `k2:<escaped key>` when the store takes it as is, else `h2:<sha256>`. */
  encodeEntry(key: string): string {
    if (this.hmacKey) return `${HASHED_ENTRY}${this.hmac('k', key)}`;
    return this.literalOrHash(LITERAL_ENTRY, HASHED_ENTRY, key);
  }

  private literalOrHash(marker: string, hashed: string, key: string): string {
    const escaped = escapeKey(key);
    const overhead = this.prefix.length + 100;
    if (
      escaped.length > MAX_LITERAL_KEY ||
      marker.length + escaped.length + overhead > this.limits.maxKeyLength ||
      (this.limits.allowedKey !== undefined && !this.limits.allowedKey.test(escaped))
    ) {
      return `${hashed}${sha256(key)}`;
    }
    return marker + escaped;
  }

  /** The suffix of meta keys of `kind` for `name` in every scope (what `metaKey` puts after the scope segment). */
  metaSuffix(kind: string, name: string): string {
    return metaSuffix(kind, this.encode(name));
  }

  /** `<entry prefix>c:<writeId hex>:`, the base of the chunk keys of one write of the entry at `physicalKey`. */
  chunkKeyBase(physicalKey: string, scope: CacheScope, writeId: Buffer): string {
    return chunkKeyBase(entryPrefixOf(physicalKey, this.scopePrefix(scope)), writeId.toString('hex'));
  }

  /** Whether `key` would be stored literally, so a prefix scan can find it. */
  isLiteral(key: string): boolean {
    return this.encodeEntry(key).startsWith(LITERAL_ENTRY);
  }

  /** What follows an entry prefix in the literal entry keys that start with the logical `prefix` (for scans). */
  literalPrefix(prefix: string): string {
    return LITERAL_ENTRY + escapeKey(prefix);
  }

  /** The logical key of a literal entry key's part after the entry prefix; `undefined` for anything else. */
  literalKeyOf(rest: string): string | undefined {
    return rest.startsWith(LITERAL_ENTRY) ? unescapeKey(rest.slice(LITERAL_ENTRY.length)) : undefined;
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
