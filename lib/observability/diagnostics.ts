import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The `node:diagnostics_channel` channels the cache publishes on, for tools that subscribe without
 * OpenTelemetry. Messages are built only while a channel has subscribers. Keys appear only with
 * `metrics: { recordKeys: true }`.
 *
 * - `tenant-cache:request`: one read-through finished: `{ operation, store, tenant?, result, joined, durationMs, key? }`.
 * - `tenant-cache:store:error`: `{ store, operation, tenant?, error }`.
 * - `tenant-cache:entry:stale`: `{ store, reason, tenant?, error?, key? }`.
 * - `tenant-cache:entry:corrupt`: `{ store, reason, tenant?, key? }`.
 * - `tenant-cache:invalidation`: `{ store, tenant?, kind }`.
 * - `tenant-cache:breaker`: `{ store, state }`.
 *
 * @example
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe(TENANT_CACHE_CHANNELS.request, (message) => console.log(message));
 */
export const TENANT_CACHE_CHANNELS = Object.freeze({
  request: 'tenant-cache:request',
  storeError: 'tenant-cache:store:error',
  entryStale: 'tenant-cache:entry:stale',
  entryCorrupt: 'tenant-cache:entry:corrupt',
  invalidation: 'tenant-cache:invalidation',
  breaker: 'tenant-cache:breaker',
} as const);

/** A `tenant-cache:request` message. */
export interface RequestMessage {
  readonly operation: string;
  readonly store: string;
  readonly tenant?: string;
  readonly result: 'hit' | 'miss' | 'stale' | 'bypass' | 'error';
  /** The caller shared a load already running in this process. */
  readonly joined: boolean;
  readonly durationMs: number;
  readonly key?: string;
}

/** Node keeps one channel object per name for the whole process: these are looked up, not created. */
export const REQUEST_CHANNEL = diagnosticsChannel.channel(TENANT_CACHE_CHANNELS.request);
export const STORE_ERROR_CHANNEL = diagnosticsChannel.channel(TENANT_CACHE_CHANNELS.storeError);
export const ENTRY_STALE_CHANNEL = diagnosticsChannel.channel(TENANT_CACHE_CHANNELS.entryStale);
export const ENTRY_CORRUPT_CHANNEL = diagnosticsChannel.channel(TENANT_CACHE_CHANNELS.entryCorrupt);
export const INVALIDATION_CHANNEL = diagnosticsChannel.channel(TENANT_CACHE_CHANNELS.invalidation);
export const BREAKER_CHANNEL = diagnosticsChannel.channel(TENANT_CACHE_CHANNELS.breaker);
