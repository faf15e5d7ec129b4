import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { CacheScope } from '../keys/key-builder.js';
import { sha256 } from '../keys/sha256.js';
import type { TenantDataKeys } from './tenant-data-keys.js';

const SALT = Buffer.from('nestjs-tenant-cache/v1', 'utf8');
const KEY_ID_BYTES = 4;
const NONCE_SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed message adds to its plaintext: key id, nonce salt, IV and tag. */
export const SEAL_OVERHEAD = KEY_ID_BYTES + NONCE_SALT_BYTES + IV_BYTES + TAG_BYTES;
const MAX_CACHED_KEYS = 10_000;

/** What an entry is bound to: the key of its scope (tenant or shared) and its physical key (AAD). */
export interface SealContext {
  scope: CacheScope;
  /** Additional authenticated data: changing any byte of it makes `open` fail. */
  aad: Buffer;
}

/**
 * AES-256-GCM with one key per scope: `HKDF-SHA256(secret, salt, "entry-key" + scope)`, so a key of tenant
 * A cannot open an entry of tenant B even when its bytes are copied under B's physical key.
 *
 * Each message draws a random 16-byte nonce salt and 12-byte IV and is encrypted under
 * `HMAC-SHA256(scopeKey, nonceSalt)`: random 96-bit IVs alone would cap one key at about 2^32 messages
 * (NIST SP 800-38D), which a busy tenant could reach. Secrets are tried by a 4-byte id derived from
 * each, so rotation costs nothing on reads of current entries.
 *
 * With `dataKeys` (`encryption.tenantKeys: 'wrapped'`), a tenant's entries are sealed under its random data
 * key instead (marked by the data key's id), which `shredTenant` can destroy; entries of the tenant sealed
 * under a derived key before the switch still open until they expire. Shared entries keep the derived key.
 */
export class EntryCipher {
  private readonly ids: Buffer[];
  private readonly keys = new Map<string, Buffer>();

  /** `secrets` newest first; the first encrypts, all decrypt. */
  constructor(
    private readonly secrets: readonly Buffer[],
    readonly dataKeys?: TenantDataKeys,
  ) {
    this.ids = secrets.map((s) => Buffer.from(hkdfSync('sha256', s, SALT, 'key-id', KEY_ID_BYTES)));
  }

  /** Encrypts the concatenation of `parts`; returns key id | nonce salt | IV | ciphertext | tag. */
  seal(parts: readonly Buffer[], ctx: SealContext): Buffer {
    const length = parts.reduce((n, p) => n + p.length, 0);
    const out = Buffer.allocUnsafe(SEAL_OVERHEAD + length);
    const nonce = randomBytes(NONCE_SALT_BYTES + IV_BYTES);
    let key: Buffer;
    const dataKey = this.dataKeyOf(ctx.scope);
    if (dataKey !== undefined) {
      dataKey.id.copy(out, 0);
      key = createHmac('sha256', dataKey.key).update(nonce.subarray(0, NONCE_SALT_BYTES)).digest();
    } else {
      if (this.dataKeys !== undefined && ctx.scope.kind === 'tenant') throw new Error(`internal: the data key of tenant "${ctx.scope.tenantId}" is not loaded`);
      this.ids[0]!.copy(out, 0);
      key = this.messageKey(0, ctx.scope, nonce.subarray(0, NONCE_SALT_BYTES));
    }
    nonce.copy(out, KEY_ID_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce.subarray(NONCE_SALT_BYTES));
    cipher.setAAD(ctx.aad);
    let at = KEY_ID_BYTES + NONCE_SALT_BYTES + IV_BYTES;
    for (const p of parts) at += cipher.update(p).copy(out, at);
    at += cipher.final().copy(out, at);
    cipher.getAuthTag().copy(out, at);
    return out;
  }

  /** The plaintext, or `undefined` when no secret authenticates the message (tampered, other scope, retired secret). */
  open(sealed: Buffer, ctx: SealContext): Buffer | undefined {
    if (sealed.length < SEAL_OVERHEAD) return undefined;
    const id = sealed.subarray(0, KEY_ID_BYTES);
    const nonceSalt = sealed.subarray(KEY_ID_BYTES, KEY_ID_BYTES + NONCE_SALT_BYTES);
    const iv = sealed.subarray(KEY_ID_BYTES + NONCE_SALT_BYTES, KEY_ID_BYTES + NONCE_SALT_BYTES + IV_BYTES);
    const body = sealed.subarray(KEY_ID_BYTES + NONCE_SALT_BYTES + IV_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const dataKey = this.dataKeyOf(ctx.scope);
    if (dataKey !== undefined && dataKey.id.equals(id)) {
      const opened = decrypt(createHmac('sha256', dataKey.key).update(nonceSalt).digest(), iv, ctx.aad, body, tag);
      if (opened !== undefined) return opened;
    }
    for (let i = 0; i < this.secrets.length; i++) {
      // NOTE: ids are 32 bits, so two secrets may share one: every match is tried.
      if (!this.ids[i]!.equals(id)) continue;
      // `undefined`: authentication failed with this secret: the next one with the same id is tried.
      const opened = decrypt(this.messageKey(i, ctx.scope, nonceSalt), iv, ctx.aad, body, tag);
      if (opened !== undefined) return opened;
    }
    return undefined;
  }

  /** Whether a sealed message names a secret this cipher has (false = written with a retired or foreign secret, or a shredded data key). */
  knowsKeyOf(sealed: Buffer, scope?: CacheScope): boolean {
    const id = sealed.subarray(0, KEY_ID_BYTES);
    const dataKey = scope === undefined ? undefined : this.dataKeyOf(scope);
    return sealed.length >= SEAL_OVERHEAD && (this.ids.some((k) => k.equals(id)) || dataKey?.id.equals(id) === true);
  }

  /** The tenant's data key in wrapped mode, when this process holds it. */
  private dataKeyOf(scope: CacheScope) {
    return this.dataKeys !== undefined && scope.kind === 'tenant' ? this.dataKeys.peek(scope.tenantId) : undefined;
  }

  private messageKey(secret: number, scope: CacheScope, nonceSalt: Buffer): Buffer {
    return createHmac('sha256', this.scopeKey(secret, scope)).update(nonceSalt).digest();
  }

  private scopeKey(secret: number, scope: CacheScope): Buffer {
    // The info string is injective: a fixed label, then the scope kind, then (for a tenant) its whole id.
    let info = scope.kind === 'tenant' ? `entry-key\u0000tenant\u0000${scope.tenantId}` : 'entry-key\u0000shared';
    // HKDF takes at most 1024 bytes of info: a longer tenant id is hashed, under a label of its own.
    if (scope.kind === 'tenant' && Buffer.byteLength(info) > 1024) info = `entry-key\u0000tenant-sha256\u0000${sha256(scope.tenantId)}`;
    const cacheKey = `${secret}\u0000${info}`;
    let key = this.keys.get(cacheKey);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.secrets[secret]!, SALT, info, 32));
      if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear();
      this.keys.set(cacheKey, key);
    }
    return key;
  }
}

/** AES-256-GCM decryption; `undefined` when `key` does not authenticate the message. */
function decrypt(key: Buffer, iv: Buffer, aad: Buffer, body: Buffer, tag: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const head = decipher.update(body);
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    return undefined;
  }
}

/** The HMAC-SHA256 key that replaces logical keys and tenant ids in physical keys (`hashKeys`). */
export function keyHmacSecret(secret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, 'key-hmac', 32));
}
