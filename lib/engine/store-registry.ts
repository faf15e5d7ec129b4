import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ChunkedIo } from '../codec/chunked-io.js';
import { PLAIN_CODEC, normalizeCodecOptions } from '../codec/codec.options.js';
import { keyHmacSecret } from '../codec/entry-cipher.js';
import { EntryPipeline } from '../codec/entry-pipeline.js';
import { TenantDataKeys } from '../codec/tenant-data-keys.js';
import { storeKeyStore } from '../codec/tenant-key-store.js';
import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';
import { UnknownStoreError } from '../errors/unknown-store.error.js';
import { type CacheScope, KeyBuilder } from '../keys/key-builder.js';
import { DEFAULT_STORE, TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { EngineOptions } from './engine.options.js';
import type { CacheStore, StoreDefinition } from '../stores/cache-store.interface.js';
import type { QuotaSink } from '../stores/quota/tenant-quota.js';
import { OutageLog } from '../stores/resilience/outage-log.js';
import { type StoreIo, type StoreTraits, storeIo } from '../stores/store-io.js';

/** A created store with the key builder that fits its limits. */
export interface ResolvedStore {
  alias: string;
  store: CacheStore;
  /** What the store can do beyond the required members (sets, fast paths), read once: `io.traits`. */
  traits: StoreTraits;
  /** Reads and writes through the store's fast paths, where it has them (the only reader of its optional members). */
  io: StoreIo;
  keys: KeyBuilder;
  /** Encodes, decodes and writes this store's entries (compression, encryption, chunks). */
  codec: ChunkedIo;
  /** On a tier: the same store without its L1, for `l1: false` calls (same keys, same codec settings). */
  withoutL1?: ResolvedStore;
  /** Per-tenant data keys (`encryption.tenantKeys: 'wrapped'`): loaded before a tenant's entries are encoded or decoded. */
  dataKeys?: TenantDataKeys;
}

/** The meta key of a tenant's wrapped data key in a store (see `storeKeyStore`). */
export function dataKeyKey(keys: KeyBuilder, tenantId: string): string {
  return keys.metaKey({ kind: 'tenant', tenantId }, 'dk', 'data-key');
}

/**
 * Named stores, created on first use and closed on application shutdown. Routes a tenant to its store
 * (`storeFor`), falling back to `default`.
 */
@Injectable()
export class StoreRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger('TenantCache');
  /** Store failures, logged once per outage with periodic summaries (see OutageLog). */
  readonly outages = new OutageLog();
  /** Where stores report tenants over quota; the engine forwards it as `quota:exceeded`. */
  onQuotaExceeded: QuotaSink = () => {};
  private readonly created = new Map<string, Promise<ResolvedStore>>();
  /** Stores whose creation finished, for the synchronous fast path of every cache operation. */
  private readonly ready = new Map<string, ResolvedStore>();

  /** Wraps each store as it is created (metrics and spans of its round trips); set by the engine's telemetry. */
  instrument?: (store: CacheStore, alias: string) => CacheStore;

  /** No routing, no dedicated stores: every scope without an explicit alias goes to `default`. */
  private readonly plain: boolean;

  constructor(@Inject(TENANT_CACHE_OPTIONS) private readonly options: EngineOptions) {
    this.plain = options.storeFor === undefined && DEFAULT_STORE in options.stores && Object.values(options.stores).every((d) => d.dedicatedTenant === undefined);
  }

  /** Aliases of every configured store. */
  get aliases(): string[] {
    return Object.keys(this.options.stores);
  }

  /** The alias a scope's operations go to: explicit alias, else `storeFor(tenant)`, else `default`. */
  aliasFor(scope: CacheScope, explicit?: string): string {
    if (explicit === undefined && this.plain) return DEFAULT_STORE;
    let alias = explicit;
    if (alias === undefined && scope.kind === 'tenant' && this.options.storeFor) {
      alias = this.options.storeFor(scope.tenantId);
    }
    alias ??= DEFAULT_STORE;
    if (!(alias in this.options.stores)) throw new UnknownStoreError(alias, this.aliases);
    const dedicated = this.options.stores[alias]!.dedicatedTenant;
    if (dedicated !== undefined && (scope.kind !== 'tenant' || scope.tenantId !== dedicated)) {
      throw new InvalidTenantIdError(
        `store "${alias}" is dedicated to tenant "${dedicated}" and refuses ${scope.kind === 'tenant' ? 'other tenants' : 'shared entries'}`,
        scope.kind === 'tenant' ? scope.tenantId : undefined,
      );
    }
    return alias;
  }

  /** The store behind an alias, created on first call. */
  get(alias: string): Promise<ResolvedStore> {
    let pending = this.created.get(alias);
    if (!pending) {
      const def = this.options.stores[alias];
      if (!def) throw new UnknownStoreError(alias, this.aliases);
      const creating = this.create(alias, def);
      pending = creating;
      this.created.set(alias, creating);
      creating.then(
        (resolved) => {
          if (this.created.get(alias) === creating) this.ready.set(alias, resolved);
        },
        // A failed creation is retried on the next call rather than cached forever.
        () => this.created.delete(alias),
      );
    }
    return pending;
  }

  /** The store behind an alias if it is created already (no await), else `undefined`. */
  getNow(alias: string): ResolvedStore | undefined {
    return this.ready.get(alias);
  }

  /** Closes every store that was created. */
  async onApplicationShutdown(): Promise<void> {
    const all = [...this.created.values()];
    this.outages.close();
    this.created.clear();
    this.ready.clear();
    await Promise.all(
      all.map(async (p) => {
        try {
          await (await p).store.close();
        } catch (error) {
          this.logger.warn(`Closing a cache store failed: ${(error as Error).message}`);
        }
      }),
    );
  }

  private async create(alias: string, def: StoreDefinition): Promise<ResolvedStore> {
    const created = await def.create(alias, { outages: this.outages, keyPrefix: this.options.keyPrefix, quotaExceeded: (event) => this.onQuotaExceeded(event) });
    const store = this.instrument?.(created, alias) ?? created;
    const resolved = this.resolve(alias, def, store);
    const remote = resolved.io.remoteTier;
    if (remote !== undefined) resolved.withoutL1 = this.resolve(alias, def, remote);
    return resolved;
  }

  /** The key builder, codec and io of `store` under `alias`. */
  private resolve(alias: string, def: StoreDefinition, store: CacheStore): ResolvedStore {
    const io = storeIo(store, alias);
    const traits = io.traits;
    const codecOptions = this.options.codec?.[alias] ?? (def.codec ? normalizeCodecOptions(undefined, def.codec, `stores.${alias}.codec`) : PLAIN_CODEC);
    const hmac = codecOptions.keySecret ? keyHmacSecret(codecOptions.keySecret) : undefined;
    const keys = new KeyBuilder(this.options.keyPrefix, store.capabilities, def.dedicatedTenant, hmac);
    const dataKeys =
      codecOptions.secrets && codecOptions.tenantKeys === 'wrapped'
        ? new TenantDataKeys(codecOptions.secrets, codecOptions.keyStore ?? storeKeyStore(store, (tenantId) => dataKeyKey(keys, tenantId)))
        : undefined;
    const codec = new ChunkedIo(
      new EntryPipeline(
        codecOptions,
        store.capabilities.maxValueBytes,
        alias,
        {
          keepsBytes: traits.sameBytesOnRead,
          takesText: traits.takesText,
          sharesReads: traits.sharesReads,
        },
        dataKeys,
      ),
      store,
      keys,
      io,
      // NOTE: a store that fails a chunk cleanup is failing everything: one rate-limited log, not a line each.
      (_count, error) => this.outages.failure(alias, 'mdel', undefined, error),
    );
    return dataKeys ? { alias, store, traits, io, keys, codec, dataKeys } : { alias, store, traits, io, keys, codec };
  }
}
