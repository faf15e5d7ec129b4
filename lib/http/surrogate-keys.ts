import { lengthPrefixed, sliceHash } from '../keys/canonical-encoding.js';
import type { CacheScope } from '../keys/key-builder.js';
import { type ResolvedTags, type TagInput, isVersionedTag, versioned } from '../engine/tags.js';
import { type CacheRequest, canonicalQuery, rawQuery, requestPath, safeDecode, valueAt } from './cache-request.js';
import { type UserIdResolver, defaultUserId } from './response-key.js';

/**
 * A tag of a cached response: a name, `versioned(name)`, or a function of the request returning one,
 * several or none. Tags are per tenant: `invalidateTag('products')` for tenant `acme` never touches
 * tenant `globex`'s entries, here or on a CDN.
 */
export type ResponseTagSpec = TagInput | ((req: CacheRequest) => TagInput | readonly TagInput[] | undefined | null);

/**
 * Tag generators for responses (surrogate keys on a CDN, tags in our stores).
 *
 * @example
 * @CacheResponse({ tags: [versioned('catalog'), Surrogate.entity('product', 'params.id')] })
 */
export const Surrogate = Object.freeze({
  /** `path:<path>`: the path as sent, without the query. */
  path(): (req: CacheRequest) => string {
    return (req) => `path:${requestPath(req)}`;
  },
  /** `<entity>:<id>`, the id read at a dotted path on the request (default `params.id`); none when absent. */
  entity(entity: string, idPath = 'params.id'): (req: CacheRequest) => string | undefined {
    return (req) => {
      const id = valueAt(req, idPath);
      return id === undefined || id === null || id === '' ? undefined : `${entity}:${String(id)}`;
    };
  },
  /** `user:<id>` for an authenticated request (see `http.userId`); none for anonymous ones. */
  user(resolve: UserIdResolver = defaultUserId): (req: CacheRequest) => string | undefined {
    return (req) => {
      const id = resolve(req);
      return id === undefined ? undefined : `user:${id}`;
    };
  },
  /** `query:<name>=<value>` for each named query parameter present (decoded values). */
  query(...names: string[]): (req: CacheRequest) => string[] {
    const allow = new Set(names);
    return (req) =>
      canonicalQuery(rawQuery(req), allow).map((pair) => {
        const eq = pair.indexOf('=');
        return `query:${safeDecode(pair.slice(0, eq))}=${safeDecode(pair.slice(eq + 1))}`;
      });
  },
});

/**
 * The surrogate key (Fastly `Surrogate-Key`, Cloudflare `Cache-Tag`) of a tag in one scope: a hash of
 * the namespace, the tenant and the tag, so that no two tenants (or a plain and a versioned tag of the
 * same name) ever share one, whatever characters they hold, and a tenant's purge cannot reach another's.
 * `namespace` is the module's `keyPrefix`.
 *
 * @example
 * surrogateKeyFor('tc:', { kind: 'tenant', tenantId: 'acme' }, versioned('catalog')) // 'tc-3f0c…' (32 hex)
 */
export function surrogateKeyFor(namespace: string, scope: CacheScope, tag: TagInput, prefix = 'tc-'): string {
  const kind = isVersionedTag(tag) ? 'v' : 'p';
  const name = isVersionedTag(tag) ? tag.name : tag;
  return `${prefix}${sliceHash(`${lengthPrefixed(namespace)}${scopeSlice(scope)}${kind}${lengthPrefixed(name)}`)}`;
}

/**
 * The surrogate key every cached response of a scope carries: purged by `invalidateAll()`.
 *
 * @example
 * scopeSurrogateKey('tc:', { kind: 'tenant', tenantId: 'acme' })
 */
export function scopeSurrogateKey(namespace: string, scope: CacheScope, prefix = 'tc-'): string {
  return `${prefix}${sliceHash(`${lengthPrefixed(namespace)}${scopeSlice(scope)}a`)}`;
}

/** The surrogate keys a stored response carries: one per tag, then the scope's own key. */
export function entrySurrogateKeys(namespace: string, scope: CacheScope, tags: ResolvedTags, prefix: string): string[] {
  return [
    ...tags.plain.map((t) => surrogateKeyFor(namespace, scope, t, prefix)),
    ...tags.versioned.map((t) => surrogateKeyFor(namespace, scope, versioned(t), prefix)),
    scopeSurrogateKey(namespace, scope, prefix),
  ];
}

function scopeSlice(scope: CacheScope): string {
  return scope.kind === 'shared' ? 's' : `t${lengthPrefixed(scope.tenantId)}`;
}
