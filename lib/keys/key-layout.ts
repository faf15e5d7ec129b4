import { lengthPrefixed, sliceHash } from './canonical-encoding.js';
import { VERSIONED_KEY_MARK, isInternalKey } from './logical-key-marks.js';

// The physical key layout, parsed. `KeyBuilder` builds it:
//   <prefix><scope>g<generation>:<entry>   entries (k2: literal, h2: hashed) and chunks (c:<writeId>:)
//   <prefix><scope>m:<kind>:<name>          meta keys (generation, tag versions, tag indexes)
// where <scope> is `s:` (shared), `d:` (dedicated store), `T<sha256 hex>:` (HMAC'd tenant) or
// `t<len>:<tenant>:`. Everything that takes a physical key apart lives here, so that isolation depends
// on one parser.

/** Names of versioned tags longer than this are replaced by their hash in the logical key. */
const MAX_TAG_NAME = 64;

/**
 * The length of the `<scope>` segment at `at` in `key`, or -1 when no scope layout starts there.
 * Parsed, not matched: a tenant id may itself contain `:` or look like another layout.
 */
export function scopeSegmentLength(key: string, at: number): number {
  const kind = key[at];
  if (kind === 's' || kind === 'd') return key[at + 1] === ':' ? 2 : -1;
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
