import { InvalidCacheKeyError } from '../errors/invalid-cache-key.error.js';
import { canonicalEncode, lengthPrefixed, sliceHash } from '../keys/canonical-encoding.js';
import { KeyConstructor } from '../keys/key-constructor.js';
import { CompiledKey } from '../keys/key-constructor.compiler.js';
import { RESPONSE_KEY_MARK } from '../keys/logical-key-marks.js';
import { type CacheRequest, canonicalQuery, headerOf, rawQuery, requestPath, valueAt } from './cache-request.js';

/** Slices longer than this are replaced by their hash. */
const MAX_SLICE = 128;

/**
 * One slice of a response key, computed from the request. Built-in parts come from `ResponseKey`;
 * write your own as `{ name, value: (req) => string | undefined }`.
 */
export interface ResponseKeyPart {
  /** Names the slice in the key (two parts with different names never produce the same key). */
  readonly name: string;
  /** The slice's value; `undefined` keys like an absent value. */
  value(req: CacheRequest): string | undefined;
  /** Request headers the slice reads: sent back in `Vary`. */
  readonly vary?: readonly string[];
}

/**
 * How a route's key is built: built-in or custom parts, a function of the request returning a string,
 * or a `KeyConstructor` whose single parameter is the request (`KeyConstructor.params('req')`).
 */
export type ResponseKeySpec = readonly ResponseKeyPart[] | ((req: CacheRequest) => string) | (new () => KeyConstructor<[req: CacheRequest], readonly string[]>);

/** Finds the authenticated user's id on a request; `undefined` = anonymous. */
export type UserIdResolver = (req: CacheRequest) => string | undefined;

/**
 * The id of the authenticated user: `req.user.id` (or `sub`, `userId`, `_id`), a hash of the whole
 * `req.user` when it has none of them, else a hash of the `Authorization` header; `undefined` when the
 * request carries neither.
 *
 * @example
 * TenantCacheModule.forRoot({ http: { userId: (req) => defaultUserId(req) ?? (req.headers['x-api-key'] as string | undefined) } })
 */
export const defaultUserId: UserIdResolver = (req) => {
  const user = req.user;
  if (user !== undefined && user !== null && user !== false) {
    if (typeof user === 'object') {
      const u = user as Record<string, unknown>;
      for (const field of ['id', 'sub', 'userId', '_id']) {
        const v = u[field];
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return `${field}:${typeof v}:${String(v)}`;
        if (v !== null && typeof v === 'object' && typeof (v as { toHexString?: unknown }).toHexString === 'function') {
          return `${field}:oid:${(v as { toHexString(): string }).toHexString()}`;
        }
      }
      try {
        return `user#${sliceHash(canonicalEncode(user))}`;
      } catch {
        // NOTE: a user object that cannot be encoded: fall through to the Authorization header, or a unique marker.
      }
    } else return `user:${typeof user}:${String(user)}`;
  }
  const auth = headerOf(req, 'authorization');
  if (auth !== undefined && auth !== '') return `auth#${sliceHash(auth)}`;
  if (user !== undefined && user !== null && user !== false) throw new InvalidCacheKeyError('req.user has no id and cannot be encoded; give http.userId');
  return undefined;
};

function slice(value: string | undefined): string {
  if (value === undefined) return 'u';
  return value.length > MAX_SLICE ? `#${sliceHash(value)}` : lengthPrefixed(value);
}

function text(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return `s${value}`;
  return canonicalEncode(value);
}

/**
 * Built-in key parts. Every slice is length-prefixed or hashed, so `/foo-bar` and `/foobar`, or
 * `a=1&a=2` and `a=2`, never share a key.
 *
 * @example
 * @CacheResponse({ key: [ResponseKey.path(), ResponseKey.query({ allow: ['page', 'sort'] }), ResponseKey.headers('accept-language')] })
 */
export const ResponseKey = Object.freeze({
  /** The path as sent, without the query. */
  path(): ResponseKeyPart {
    return { name: 'path', value: requestPath };
  },
  /** The query, parameters sorted (repeated ones kept whole); `allow` keeps only the named ones. */
  query(options: { allow?: readonly string[] } = {}): ResponseKeyPart {
    const allow = options.allow === undefined ? undefined : new Set(options.allow);
    const name = allow === undefined ? 'query' : `query[${[...allow].sort().map(lengthPrefixed).join('')}]`;
    return { name, value: (req) => canonicalQuery(rawQuery(req), allow).map(lengthPrefixed).join('') };
  },
  /** Path and query: `path()` then `query(options)`. */
  pathAndQuery(options: { allow?: readonly string[] } = {}): ResponseKeyPart {
    const q = ResponseKey.query(options);
    return { name: `pq:${q.name}`, value: (req) => lengthPrefixed(requestPath(req)) + lengthPrefixed(q.value(req) ?? '') };
  },
  /** Route parameters (all, or the named ones). */
  params(...names: string[]): ResponseKeyPart {
    const sorted = [...names].sort();
    return {
      name: `params[${sorted.map(lengthPrefixed).join('')}]`,
      value: (req) => {
        const params = (req.params ?? {}) as Record<string, unknown>;
        const picked = sorted.length === 0 ? params : Object.fromEntries(sorted.map((n) => [n, params[n]]));
        return canonicalEncode(picked);
      },
    };
  },
  /** A value at a dotted path on the request, e.g. `'user.orgId'`, `'query.page'`. */
  field(path: string): ResponseKeyPart {
    return { name: `field:${path}`, value: (req) => text(valueAt(req, path)) };
  },
  /** Request headers (case-insensitive); each one is also sent back in `Vary`. */
  headers(...names: string[]): ResponseKeyPart {
    const lower = [...new Set(names.map((n) => n.toLowerCase()))].sort();
    return {
      name: `headers[${lower.map(lengthPrefixed).join('')}]`,
      value: (req) => lower.map((n) => slice(headerOf(req, n))).join(''),
      vary: lower,
    };
  },
  /** The authenticated user's id (see `http.userId`); `undefined` for anonymous requests. */
  user(resolve: UserIdResolver = defaultUserId): ResponseKeyPart {
    return { name: 'user', value: resolve };
  },
  /**
   * The response format: a `format` query parameter or path extension (`.json`, `.csv`) when present,
   * else the `Accept` header (sent back in `Vary`).
   */
  format(): ResponseKeyPart {
    return {
      name: 'format',
      value: (req) => {
        const fromQuery = canonicalQuery(rawQuery(req), new Set(['format']));
        if (fromQuery.length > 0) return `q${fromQuery.join('&')}`;
        const ext = /\.([A-Za-z0-9]{1,8})$/.exec(requestPath(req));
        if (ext) return `e${ext[1]!.toLowerCase()}`;
        return `a${headerOf(req, 'accept') ?? ''}`;
      },
      vary: ['accept'],
    };
  },
  /** Another part's value replaced by a 128-bit hash (for large or sensitive values). */
  hash(part: ResponseKeyPart): ResponseKeyPart {
    return {
      name: `hash(${part.name})`,
      value: (req) => {
        const v = part.value(req);
        return v === undefined ? undefined : sliceHash(v);
      },
      vary: part.vary,
    };
  },
});

/** A route's compiled key: the logical key of a request, and the headers it varies on. */
export interface CompiledResponseKey {
  build(req: CacheRequest, method: string): string;
  readonly vary: readonly string[];
}

/** The default key: method + path + canonical query. */
const DEFAULT_PARTS: readonly ResponseKeyPart[] = [ResponseKey.path(), ResponseKey.query()];

/**
 * Compiles a route's key option. The method (HEAD keys as GET) always leads the key; the user slice
 * is added by the interceptor, after, when the entry is per user.
 */
export function compileResponseKey(spec: ResponseKeySpec | undefined, where: { className: string; methodName: string }): CompiledResponseKey {
  if (spec === undefined || Array.isArray(spec)) {
    const parts = (spec ?? DEFAULT_PARTS) as readonly ResponseKeyPart[];
    for (const p of parts) {
      if (!p || typeof p.name !== 'string' || typeof p.value !== 'function') {
        throw new InvalidCacheKeyError(`@CacheResponse on ${where.className}.${where.methodName}: key parts are ResponseKey.*() or { name, value(req) }`);
      }
    }
    const head = `${RESPONSE_KEY_MARK}p${parts.map((p) => lengthPrefixed(p.name)).join('')};`;
    return {
      vary: [...new Set(parts.flatMap((p) => p.vary ?? []))].sort(),
      build(req, method) {
        let key = `${head}${lengthPrefixed(method)}`;
        for (const p of parts) key += slice(p.value(req));
        return key;
      },
    };
  }
  if (typeof spec === 'function' && isKeyConstructorClass(spec)) {
    const compiled = CompiledKey.fromConstructor(spec as new () => object, { ...where, paramCount: 1 });
    const ctx = { tenantId: undefined, className: where.className, methodName: where.methodName };
    return {
      vary: [],
      build: (req, method) => `${RESPONSE_KEY_MARK}c${lengthPrefixed(method)}${lengthPrefixed(compiled.build([req], ctx))}`,
    };
  }
  const fn = spec as (req: CacheRequest) => string;
  return {
    vary: [],
    build(req, method) {
      let out: unknown;
      try {
        out = fn(req);
      } catch (error) {
        throw new InvalidCacheKeyError(`${where.className}.${where.methodName}: the response key function threw (${(error as Error).message})`);
      }
      if (typeof out !== 'string') {
        throw new InvalidCacheKeyError(`${where.className}.${where.methodName}: the response key function returned ${out === null ? 'null' : typeof out}, not a string`);
      }
      return `${RESPONSE_KEY_MARK}f${lengthPrefixed(method)}${slice(out)}`;
    },
  };
}

/** Appends the per-user slice (`undefined` = anonymous). */
export function withUser(key: string, userId: string | undefined): string {
  return userId === undefined ? `${key}|a` : `${key}|u${slice(userId)}`;
}

function isKeyConstructorClass(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as { prototype?: unknown }).prototype instanceof KeyConstructor;
}
