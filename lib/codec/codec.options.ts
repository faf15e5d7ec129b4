import * as zlib from 'node:zlib';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { TenantKeyStore } from './tenant-data-keys.js';

/**
 * Compression algorithms; `zstd` only where the running Node has `zlib.zstdCompress` (22.15+, 23.8+).
 *
 * @example
 * const algorithm: CompressionAlgorithm = 'brotli';
 */
export type CompressionAlgorithm = 'gzip' | 'deflate' | 'brotli' | 'zstd';

/**
 * How values are compressed. The algorithm is recorded in each entry, so readers need no configuration.
 *
 * @example
 * compression: { algorithm: 'gzip', threshold: 4096, level: 5 }
 */
export interface CompressionOptions {
  /** Default `gzip`. */
  algorithm?: CompressionAlgorithm;
  /** Serialized values smaller than this many bytes are stored as they are. Default 1024. */
  threshold?: number;
  /** Algorithm level (gzip/deflate 1-9, brotli quality 0-11, zstd 1-22). Default 6 / 4 / 3. */
  level?: number;
}

/**
 * AES-256-GCM encryption with a key per tenant derived (HKDF-SHA256) from a master secret.
 *
 * @example
 * encryption: { secrets: [process.env.CACHE_SECRET_NEW!, process.env.CACHE_SECRET_OLD!] }
 */
export interface EncryptionOptions {
  /**
   * Master secrets, newest first: entries are written with the first and read with any of them, so a
   * secret is rotated by putting the new one in front and dropping the old one once its entries
   * expired. Each is at least 32 characters (or bytes): e.g. `openssl rand -base64 48`.
   */
  secrets: string | Buffer | readonly (string | Buffer)[];
  /**
   * Refuse entries that are not encrypted (they are misses and are removed), so that whoever can write
   * to the store cannot plant a plaintext value. `false` lets a call write without encryption
   * (`codec: { encrypt: false }`). Default true.
   */
  required?: boolean;
  /**
   * How each tenant's entry key is made. `'derived'` (default): derived (HKDF) from the master secret and the
   * tenant id. `'wrapped'`: a random data key per tenant, wrapped by the master secret and kept in `keyStore`,
   * so that `shredTenant(id)` can destroy one tenant's key (crypto-shredding). See docs/tenancy.md.
   */
  tenantKeys?: 'derived' | 'wrapped';
  /** With `tenantKeys: 'wrapped'`: where wrapped data keys live. Default: the store, beside the tenant's entries. */
  keyStore?: TenantKeyStore;
}

/**
 * What happens to values between the service and the store: serialize -> compress -> encrypt -> chunk.
 * Set per module (`TenantCacheModule.forRoot({ codec })`), per store (`{ ...redisStore(...), codec }`)
 * and in part per call (`CodecCallOptions`).
 *
 * @example
 * codec: { compression: { algorithm: 'brotli' }, encryption: { secrets: [process.env.CACHE_SECRET!] }, hashKeys: true }
 */
export interface CodecOptions {
  /** Compress values from a size threshold. Default off. */
  compression?: false | CompressionOptions;
  /** Encrypt entries. Default off. */
  encryption?: false | EncryptionOptions;
  /**
   * Largest piece stored under one key (bytes): bigger entries are split into chunks written before a
   * manifest. Never above the store's `maxValueBytes`. `false`: no chunking (bigger values are refused).
   * Default 1 MiB.
   */
  chunkSize?: number | false;
  /** Largest value accepted, in serialized bytes; bigger values throw `CacheValueTooLargeError`. Default 64 MiB. */
  maxValueBytes?: number;
  /**
   * Replace logical keys and tenant ids in physical keys by their HMAC-SHA256, so that keys carry no
   * identifying information. `true` keys the HMAC with the newest encryption secret (rotating it then
   * starts a cold cache); `{ secret }` with a dedicated one.
   */
  hashKeys?: boolean | { secret: string | Buffer };
}

/**
 * The part of the codec a single call may change (`getOrSet`, `memoizeIterable`, `@CacheResult`,
 * `@CacheResponse`). Validate it at start-up with `validateCodecCallOptions`.
 *
 * @example
 * cache.getOrSet('report', build, { ttl: 600_000, codec: { compression: { algorithm: 'brotli' } } })
 */
export interface CodecCallOptions {
  compression?: false | CompressionOptions;
  /** `true` needs encryption configured for the store; `false` needs `encryption.required: false`. */
  encrypt?: boolean;
  chunkSize?: number | false;
}

/** Compression after validation. */
export interface NormalizedCompression {
  algorithm: CompressionAlgorithm;
  threshold: number;
  level: number;
}

/** Codec options after defaults are merged and validation passed. */
export interface NormalizedCodecOptions {
  compression: NormalizedCompression | undefined;
  /** Secrets newest first; `undefined` = no encryption. */
  secrets: readonly Buffer[] | undefined;
  encryptionRequired: boolean;
  /** `Infinity` = no chunking. */
  chunkSize: number;
  maxValueBytes: number;
  /** Secret of the key HMAC; `undefined` = keys as they are. */
  keySecret: Buffer | undefined;
  /** `'wrapped'`: per-tenant data keys (see `EncryptionOptions.tenantKeys`); only with secrets. */
  tenantKeys: 'derived' | 'wrapped';
  /** A user-supplied key store of wrapped data keys; `undefined` = the store itself. */
  keyStore?: TenantKeyStore;
}

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;
const MIN_CHUNK_SIZE = 1024;
const MIN_SECRET_LENGTH = 32;
const DEFAULT_LEVELS: Record<CompressionAlgorithm, number> = { gzip: 6, deflate: 6, brotli: 4, zstd: 3 };
const LEVEL_RANGES: Record<CompressionAlgorithm, [number, number]> = { gzip: [0, 9], deflate: [0, 9], brotli: [0, 11], zstd: [1, 22] };

/** The codec nothing is configured for: entries stay in the plain format 1. */
export const PLAIN_CODEC: NormalizedCodecOptions = Object.freeze({
  compression: undefined,
  secrets: undefined,
  encryptionRequired: false,
  chunkSize: DEFAULT_CHUNK_SIZE,
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  keySecret: undefined,
  tenantKeys: 'derived',
});

/** Whether the running Node has zstd in `node:zlib`. */
export function hasZstd(): boolean {
  return typeof (zlib as unknown as Record<string, unknown>).zstdCompress === 'function';
}

/**
 * Merges module and store codec options (store fields win) and validates them once, at start-up.
 * `path` names the option in errors (`codec`, `stores.redis.codec`).
 */
export function normalizeCodecOptions(module: CodecOptions | undefined, store?: CodecOptions, path = 'codec'): NormalizedCodecOptions {
  for (const [o, p] of [
    [module, 'codec'],
    [store, path],
  ] as const) {
    if (o !== undefined && (typeof o !== 'object' || o === null || Array.isArray(o))) {
      throw new InvalidOptionsError(p, 'must be an object', 'Write codec: { compression?, encryption?, chunkSize?, maxValueBytes?, hashKeys? }.');
    }
  }
  const merged: CodecOptions = { ...module, ...store };
  const where = store ? path : 'codec';
  const compression = normalizeCompression(merged.compression, `${where}.compression`);
  let secrets: Buffer[] | undefined;
  let encryptionRequired = false;
  let tenantKeys: 'derived' | 'wrapped' = 'derived';
  let keyStore: TenantKeyStore | undefined;
  if (merged.encryption !== undefined && merged.encryption !== false) {
    const enc = merged.encryption;
    if (typeof enc !== 'object' || enc === null) {
      throw new InvalidOptionsError(`${where}.encryption`, 'must be { secrets } or false', 'Write encryption: { secrets: [process.env.CACHE_SECRET] }.');
    }
    secrets = normalizeSecrets(enc.secrets, `${where}.encryption.secrets`);
    if (enc.required !== undefined && typeof enc.required !== 'boolean') {
      throw new InvalidOptionsError(`${where}.encryption.required`, 'must be a boolean', 'Write required: false to accept unencrypted entries.');
    }
    encryptionRequired = enc.required ?? true;
    tenantKeys = enc.tenantKeys ?? 'derived';
    if (tenantKeys !== 'derived' && tenantKeys !== 'wrapped') {
      throw new InvalidOptionsError(`${where}.encryption.tenantKeys`, `is ${JSON.stringify(tenantKeys)}`, "Write 'derived' (the default) or 'wrapped'.");
    }
    keyStore = enc.keyStore;
    const ks = keyStore as unknown as Record<string, unknown> | undefined;
    if (ks !== undefined && (tenantKeys !== 'wrapped' || !['get', 'add', 'set', 'delete'].every((m) => typeof ks?.[m] === 'function'))) {
      throw new InvalidOptionsError(
        `${where}.encryption.keyStore`,
        tenantKeys !== 'wrapped' ? "is set but tenantKeys is not 'wrapped'" : 'is not a TenantKeyStore',
        "Give { get, add, set, delete } (see TenantKeyStore) with tenantKeys: 'wrapped'.",
      );
    }
  }
  const chunkSize = normalizeChunkSize(merged.chunkSize, `${where}.chunkSize`);
  const maxValueBytes = merged.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (typeof maxValueBytes !== 'number' || !Number.isInteger(maxValueBytes) || maxValueBytes < 1) {
    throw new InvalidOptionsError(`${where}.maxValueBytes`, `is ${String(maxValueBytes)}`, 'Give a positive whole number of bytes (default 64 MiB).');
  }
  let keySecret: Buffer | undefined;
  const hk = merged.hashKeys;
  if (hk === true) {
    if (!secrets) {
      throw new InvalidOptionsError(
        `${where}.hashKeys`,
        'is true but no encryption secret is configured to key the HMAC',
        'Configure encryption: { secrets }, or give hashKeys: { secret } (32+ characters).',
      );
    }
    keySecret = secrets[0];
  } else if (hk !== undefined && hk !== false) {
    if (typeof hk !== 'object' || hk === null) {
      throw new InvalidOptionsError(`${where}.hashKeys`, `is ${String(hk)}`, 'Write hashKeys: true or hashKeys: { secret }.');
    }
    keySecret = normalizeSecrets(hk.secret, `${where}.hashKeys.secret`)[0];
  }
  return { compression, secrets, encryptionRequired, chunkSize, maxValueBytes, keySecret, tenantKeys, ...(keyStore ? { keyStore } : {}) };
}

/**
 * Validates a per-call override; throws `InvalidOptionsError` naming `where`. Decorators call it at
 * start-up so that a bad `codec` fails boot rather than the first call.
 *
 * @example
 * validateCodecCallOptions(options.codec, '@CacheResult on ReportService.build');
 */
export function validateCodecCallOptions(options: CodecCallOptions | undefined, where = 'codec'): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError(where, 'must be an object', 'Write codec: { compression?, encrypt?, chunkSize? }.');
  }
  const known = new Set(['compression', 'encrypt', 'chunkSize']);
  for (const k of Object.keys(options)) {
    if (!known.has(k)) {
      throw new InvalidOptionsError(
        `${where}.${k}`,
        'cannot be set per call',
        'Per call only compression, encrypt and chunkSize apply; set secrets, hashKeys and maxValueBytes on the module or the store.',
      );
    }
  }
  normalizeCompression(options.compression, `${where}.compression`);
  if (options.encrypt !== undefined && typeof options.encrypt !== 'boolean') {
    throw new InvalidOptionsError(`${where}.encrypt`, 'must be a boolean', 'Write encrypt: true or false.');
  }
  normalizeChunkSize(options.chunkSize, `${where}.chunkSize`);
}

export function normalizeCompression(c: false | CompressionOptions | undefined, where: string): NormalizedCompression | undefined {
  if (c === undefined || c === false) return undefined;
  if (typeof c !== 'object' || c === null) {
    throw new InvalidOptionsError(where, 'must be { algorithm?, threshold?, level? } or false', "Write compression: { algorithm: 'gzip' }.");
  }
  const algorithm = c.algorithm ?? 'gzip';
  if (!(algorithm in DEFAULT_LEVELS)) {
    throw new InvalidOptionsError(`${where}.algorithm`, `is ${JSON.stringify(algorithm)}`, 'Use "gzip", "deflate", "brotli" or "zstd".');
  }
  if (algorithm === 'zstd' && !hasZstd()) {
    throw new InvalidOptionsError(
      `${where}.algorithm`,
      `is "zstd", which this Node (${process.version}) does not have (zlib.zstdCompress arrived in Node 22.15 and 23.8)`,
      'Use "brotli" or "gzip", or run a newer Node.',
    );
  }
  const threshold = c.threshold ?? 1024;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
    throw new InvalidOptionsError(`${where}.threshold`, `is ${String(threshold)}`, 'Give a whole number of bytes >= 0 (default 1024).');
  }
  const level = c.level ?? DEFAULT_LEVELS[algorithm];
  const [lo, hi] = LEVEL_RANGES[algorithm];
  if (typeof level !== 'number' || !Number.isInteger(level) || level < lo || level > hi) {
    throw new InvalidOptionsError(`${where}.level`, `is ${String(level)}`, `Give a whole number from ${lo} to ${hi} for ${algorithm}.`);
  }
  return { algorithm, threshold, level };
}

function normalizeChunkSize(size: number | false | undefined, where: string): number {
  if (size === undefined) return DEFAULT_CHUNK_SIZE;
  if (size === false) return Infinity;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < MIN_CHUNK_SIZE) {
    throw new InvalidOptionsError(where, `is ${String(size)}`, `Give a whole number of bytes >= ${MIN_CHUNK_SIZE} (default 1 MiB), or false.`);
  }
  return size;
}

function normalizeSecrets(input: unknown, where: string): Buffer[] {
  const list = Array.isArray(input) ? (input as unknown[]) : input === undefined ? [] : [input];
  if (list.length === 0) {
    throw new InvalidOptionsError(where, 'is missing or empty', 'Give at least one secret of 32+ random characters (e.g. `openssl rand -base64 48`), newest first.');
  }
  const out: Buffer[] = [];
  list.forEach((s, i) => {
    const at = Array.isArray(input) ? `${where}[${i}]` : where;
    if (typeof s !== 'string' && !Buffer.isBuffer(s)) {
      throw new InvalidOptionsError(at, `is ${s === null ? 'null' : typeof s}`, 'Give a string or a Buffer (an unset environment variable?).');
    }
    const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
    if (bytes.length < MIN_SECRET_LENGTH) {
      throw new InvalidOptionsError(
        at,
        `is too short (${bytes.length} bytes)`,
        `Give at least ${MIN_SECRET_LENGTH} random characters (e.g. \`openssl rand -base64 48\`).`,
      );
    }
    if (out.some((o) => o.equals(bytes))) throw new InvalidOptionsError(at, 'repeats an earlier secret', 'List each secret once, newest first.');
    out.push(bytes);
  });
  return out;
}
