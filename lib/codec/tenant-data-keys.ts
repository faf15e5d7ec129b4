import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const SALT = Buffer.from('nestjs-tenant-cache/v1', 'utf8');
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;
/** `W1`: a data key wrapped with AES-256-GCM under a key derived from one master secret. */
const WRAP_MAGIC = Buffer.from('W1', 'latin1');
const WRAPPED_BYTES = WRAP_MAGIC.length + KEY_ID_BYTES + IV_BYTES + DATA_KEY_BYTES + TAG_BYTES;
/** Data keys this process keeps unwrapped, per store. */
const MAX_CACHED_DATA_KEYS = 10_000;

/**
 * Where the wrapped data keys of tenants live (`codec.encryption.keyStore`). The default keeps each one in
 * the store, beside the tenant's entries (a meta key of its segment); give your own to keep them in a KMS or
 * a database. Values are opaque bytes, already wrapped by the master secrets.
 *
 * @example
 * const keyStore: TenantKeyStore = {
 *   get: async (tenant) => (await db.keys.findOne(tenant))?.wrapped,
 *   add: async (tenant, wrapped) => db.keys.insertIfAbsent(tenant, wrapped),
 *   set: async (tenant, wrapped) => void (await db.keys.upsert(tenant, wrapped)),
 *   delete: async (tenant) => void (await db.keys.remove(tenant)),
 * };
 */
export interface TenantKeyStore {
  /** The tenant's wrapped data key, or `undefined` when it has none (never had, or was shredded). */
  get(tenantId: string): Promise<Buffer | undefined>;
  /** Stores a wrapped key unless the tenant has one; true when it stored it (the caller then reads the winner). */
  add(tenantId: string, wrapped: Buffer): Promise<boolean>;
  /** Replaces the wrapped key (the same data key wrapped under the newest master secret, after a rotation). */
  set(tenantId: string, wrapped: Buffer): Promise<void>;
  /** Destroys the tenant's wrapped key: its entries can never be decrypted again. */
  delete(tenantId: string): Promise<void>;
}

/** A tenant's data key, unwrapped, with the id that marks the entries it sealed. */
export interface DataKey {
  readonly key: Buffer;
  readonly id: Buffer;
}

/**
 * Per-tenant random data keys (DEK), wrapped by the master secrets (KEK) and kept in a `TenantKeyStore`,
 * unwrapped in process (bounded). `EntryCipher` reads them synchronously (`peek`); the engine `load`s a
 * tenant's key before it encodes or decodes that tenant's entries. `shred` destroys one: every copy of the
 * tenant's entries, wherever it is, then fails to authenticate.
 */
export class TenantDataKeys {
  private readonly keks: Buffer[];
  private readonly ids: Buffer[];
  private readonly cache = new Map<string, DataKey>();
  private readonly loading = new Map<string, Promise<DataKey>>();

  /** `secrets` newest first, as in `encryption.secrets`. */
  constructor(
    secrets: readonly Buffer[],
    readonly keyStore: TenantKeyStore,
  ) {
    this.keks = secrets.map((s) => Buffer.from(hkdfSync('sha256', s, SALT, 'data-key-wrap', 32)));
    this.ids = secrets.map((s) => Buffer.from(hkdfSync('sha256', s, SALT, 'key-id', KEY_ID_BYTES)));
  }

  /** The tenant's data key when this process holds it (no I/O), else `undefined`. */
  peek(tenantId: string): DataKey | undefined {
    return this.cache.get(tenantId);
  }

  /**
   * The tenant's data key: from this process, else unwrapped from the key store, else created (random) and
   * stored unless another instance stored one first. A key wrapped under an older secret is wrapped again
   * under the newest, so that the older secret can be retired. Throws when the stored key cannot be unwrapped
   * by any configured secret (the tenant's entries then stay unreadable rather than being re-keyed silently).
   */
  load(tenantId: string): Promise<DataKey> {
    const known = this.cache.get(tenantId);
    if (known !== undefined) return Promise.resolve(known);
    let pending = this.loading.get(tenantId);
    if (pending === undefined) {
      pending = this.fetch(tenantId).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, pending);
    }
    return pending;
  }

  /** Drops the tenant's key from this process (another instance shredded it). */
  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  /** Destroys the tenant's data key in the key store and in this process. */
  async shred(tenantId: string): Promise<void> {
    this.cache.delete(tenantId);
    await this.keyStore.delete(tenantId);
    this.cache.delete(tenantId);
  }

  private async fetch(tenantId: string): Promise<DataKey> {
    let wrapped = await this.keyStore.get(tenantId);
    if (wrapped === undefined) {
      await this.keyStore.add(tenantId, this.wrap(randomBytes(DATA_KEY_BYTES), tenantId));
      wrapped = await this.keyStore.get(tenantId);
      if (wrapped === undefined) throw new Error(`the data key of tenant "${tenantId}" was not kept by its key store`);
    }
    const opened = this.unwrap(wrapped, tenantId);
    if (opened === undefined) throw new Error(`the data key of tenant "${tenantId}" does not open with any configured secret`);
    if (opened.secret > 0) await this.keyStore.set(tenantId, this.wrap(opened.key, tenantId));
    const dataKey: DataKey = { key: opened.key, id: dataKeyId(opened.key) };
    if (this.cache.size >= MAX_CACHED_DATA_KEYS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(tenantId, dataKey);
    return dataKey;
  }

  private wrap(key: Buffer, tenantId: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keks[0]!, iv);
    cipher.setAAD(aadOf(tenantId));
    const body = Buffer.concat([cipher.update(key), cipher.final()]);
    return Buffer.concat([WRAP_MAGIC, this.ids[0]!, iv, body, cipher.getAuthTag()]);
  }

  private unwrap(wrapped: Buffer, tenantId: string): { key: Buffer; secret: number } | undefined {
    if (wrapped.length !== WRAPPED_BYTES || !wrapped.subarray(0, WRAP_MAGIC.length).equals(WRAP_MAGIC)) return undefined;
    let at = WRAP_MAGIC.length;
    const id = wrapped.subarray(at, (at += KEY_ID_BYTES));
    const iv = wrapped.subarray(at, (at += IV_BYTES));
    const body = wrapped.subarray(at, (at += DATA_KEY_BYTES));
    const tag = wrapped.subarray(at);
    for (let i = 0; i < this.keks.length; i++) {
      if (!this.ids[i]!.equals(id)) continue;
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.keks[i]!, iv);
        decipher.setAAD(aadOf(tenantId));
        decipher.setAuthTag(tag);
        return { key: Buffer.concat([decipher.update(body), decipher.final()]), secret: i };
      } catch {
        // Another secret with the same 32-bit id: try it.
      }
    }
    return undefined;
  }
}

/** The wrapped key is bound to its tenant: copied to another tenant, it does not unwrap. */
function aadOf(tenantId: string): Buffer {
  return Buffer.from(`data-key\u0000${tenantId}`, 'utf8');
}

/** The 4-byte id of a data key, written in front of the entries it seals (`EntryCipher`). */
function dataKeyId(key: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, SALT, 'data-key-id', KEY_ID_BYTES));
}
