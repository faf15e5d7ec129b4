import { lengthPrefixed, sliceHash } from './canonical-encoding.js';
import { VERSIONED_KEY_MARK, isInternalKey } from './logical-key-marks.js';

// The physical key layout: every segment is built and parsed here (`KeyBuilder` caches what it builds),
// so that tenant isolation depends on one definition.
//   <prefix><scope>gen                      the scope's generation counter
//   <prefix><scope>g<generation>:k2:<key>   a literal entry (the key escaped, see escapeKey)
//   <prefix><scope>g<generation>:h2:<hash>  a hashed entry (the logical key is inside the entry)
//   <prefix><scope>g<generation>:c:<id>:<n> the chunks of one write of a chunked entry
//   <prefix><scope>m:<kind>:<name>          meta keys: tag versions (tv), tag indexes (ti), plain-tag versions (tp)
// where <scope> is `s:` (shared), `d:` (a store dedicated to one tenant), `T<sha256 hex>:` (a hashed
// tenant id) or `t<len>:<escaped tenant>:`. The length prefix makes the tenant segment self-delimiting.

/** The scope segment of shared entries. */
export const SHARED_SEGMENT = 's:';
/** The scope segment of a store dedicated to one tenant (its keys carry no tenant). */
export const DEDICATED_SEGMENT = 'd:';
/** Marks a literal entry key of key format 2 (see `KEY_FORMAT_VERSION`). */
export const LITERAL_ENTRY = 'k2:';
/** Marks a hashed entry key of key format 2 (the logical key is inside the entry). */
export const HASHED_ENTRY = 'h2:';
/** Starts the meta keys of a scope. */
export const META_SEGMENT = 'm:';
/** Starts the chunk keys of one generation. */
export const CHUNK_SEGMENT = 'c:';

/** The scope segment of a tenant whose (escaped) id is kept literally. */
export function tenantSegment(escapedTenant: string): string {
  return `t${escapedTenant.length}:${escapedTenant}:`;
}

/** The scope segment of a tenant whose id is replaced by a hash (SHA-256 or HMAC, 64 hex digits). */
export function hashedTenantSegment(hexHash: string): string {
  return `T${hexHash}:`;
}

/** The key of a scope's generation counter, after its `<prefix><scope>`. */
export function generationCounterKey(scopePrefix: string): string {
  return `${scopePrefix}gen`;
}

/** The prefix of every entry (and chunk) of a scope in one generation. */
export function generationPrefix(scopePrefix: string, generation: number): string {
  return `${scopePrefix}g${generation}:`;
}

/** The part of a meta key after the scope: `m:<kind>:<encoded name>`. */
export function metaSuffix(kind: string, encodedName: string): string {
  return `${META_SEGMENT}${kind}:${encodedName}`;
}

/** `<entry prefix>c:<writeId hex>:`: the chunks of one write live in their own segment of the entry's generation. */
export function chunkKeyBase(entryPrefix: string, writeIdHex: string): string {
  return `${entryPrefix}${CHUNK_SEGMENT}${writeIdHex}:`;
}

/** Names of versioned tags longer than this are replaced by their hash in the logical key. */
const MAX_TAG_NAME = 64;

/**
 * The length of the `<scope>` segment at `at` in `key`, or -1 when no scope layout starts there.
 * Parsed, not matched: a tenant id may itself contain `:` or look like another layout.
 */
export function scopeSegmentLength(key: string, at: number): number {
  const kind = key[at];
  if (kind === 's' || kind === 'd') return key[at + 1] === ':' ? 2 : -1;
  // `T` + 64 hex digits + `:`
  if (kind === 'T') return key[at + 65] === ':' ? 66 : -1;
  if (kind !== 't') return -1;
  const colon = key.indexOf(':', at);
  if (colon < 0) return -1;
  const digits = key.slice(at + 1, colon);
  if (!/^(0|[1-9][0-9]*)$/.test(digits)) return -1;
  const end = colon + 1 + Number(digits);
  return key[end] === ':' ? end + 1 - at : -1;
}

/**
 * Whether a physical key is `<prefix><scope>` + `suffix` for any scope. Parsed, not matched by suffix:
 * a tenant id or an entry key may itself end with the suffix's text.
 */
export function isMetaKeyOf(key: string, prefix: string, suffix: string): boolean {
  if (!key.startsWith(prefix)) return false;
  const length = scopeSegmentLength(key, prefix.length);
  return length >= 0 && key.slice(prefix.length + length) === suffix;
}

/**
 * The `<scope prefix>g<generation>:` an entry key starts with. Entry keys are that prefix followed by
 * `k2:` or `h2:`; chunk keys put `c:` there instead, so no entry key can equal a chunk key (see docs/codec.md).
 */
export function entryPrefixOf(physicalKey: string, scopePrefix: string): string {
  const end = physicalKey.indexOf(':', scopePrefix.length);
  if (!physicalKey.startsWith(scopePrefix) || physicalKey[scopePrefix.length] !== 'g' || end < 0) {
    throw new Error(`internal: "${physicalKey}" is not an entry key of its scope`);
  }
  return physicalKey.slice(0, end + 1);
}

/**
 * `<key>~<tag>=<version>;...`: the logical key of an entry under the current versions of its versioned
 * tags. Keys built by key constructors are self-delimiting; a caller's key is length-prefixed so that no
 * untagged key can equal a tagged one.
 */
export function withTagVersions(key: string, names: readonly string[], versions: readonly number[]): string {
  let suffix = '~';
  names.forEach((name, i) => {
    suffix += `${lengthPrefixed(name.length > MAX_TAG_NAME ? `#${sliceHash(name)}` : name)}=${versions[i]!};`;
  });
  return isInternalKey(key) ? key + suffix : `${VERSIONED_KEY_MARK}${lengthPrefixed(key)}${suffix}`;
}

/** A physical key taken apart (see `parsePhysicalKey`). */
export type ParsedKey =
  | { kind: 'generation'; scope: string }
  | { kind: 'entry'; scope: string; generation: number; literal: boolean; rest: string }
  | { kind: 'chunk'; scope: string; generation: number; rest: string }
  | { kind: 'meta'; scope: string; rest: string };

/**
 * Takes a physical key under `prefix` apart: its scope segment and what it addresses. `undefined` for a
 * key that is not of this layout (another prefix, a foreign key, an older key format).
 */
export function parsePhysicalKey(key: string, prefix: string): ParsedKey | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const length = scopeSegmentLength(key, prefix.length);
  if (length < 0) return undefined;
  const at = prefix.length + length;
  const scope = key.slice(prefix.length, at);
  const rest = key.slice(at);
  if (rest === 'gen') return { kind: 'generation', scope };
  if (rest.startsWith(META_SEGMENT)) return { kind: 'meta', scope, rest: rest.slice(META_SEGMENT.length) };
  const match = /^g(0|-?[1-9][0-9]*):/.exec(rest);
  if (match === null) return undefined;
  const generation = Number(match[1]);
  const body = rest.slice(match[0].length);
  if (body.startsWith(CHUNK_SEGMENT)) return { kind: 'chunk', scope, generation, rest: body.slice(CHUNK_SEGMENT.length) };
  if (body.startsWith(LITERAL_ENTRY)) return { kind: 'entry', scope, generation, literal: true, rest: body.slice(LITERAL_ENTRY.length) };
  if (body.startsWith(HASHED_ENTRY)) return { kind: 'entry', scope, generation, literal: false, rest: body.slice(HASHED_ENTRY.length) };
  return undefined;
}
