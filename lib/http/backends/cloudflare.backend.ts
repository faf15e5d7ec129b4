import { CdnPurgeFailedError } from '../../errors/cdn-purge-failed.error.js';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { Credential, PurgeRequest, ResponseCacheBackend, SurrogateHeader } from '../response-cache-backend.interface.js';
import { baseUrlOf, batches, postPurge, readCredential, requireText } from './purge-http.js';
import { assertKnownOptions, optionKeys } from '../../tenant-cache.option-keys.js';

/** Options of `cloudflareBackend`: an API token, or (legacy) an account email and global API key. */
export interface CloudflareBackendOptions {
  /** The zone id (32 hex characters). */
  zoneId: string;
  /** An API token with the `Zone.Cache Purge` permission, sent as `Authorization: Bearer`. */
  apiToken?: Credential;
  /** Legacy auth: account email (`X-Auth-Email`), with `apiKey`. */
  email?: string;
  /** Legacy auth: global API key (`X-Auth-Key`), with `email`. */
  apiKey?: Credential;
  /** API base URL. Default `https://api.cloudflare.com` (tests point it at a local server). */
  baseUrl?: string;
  /** Timeout of one purge request, ms. Default 5000. */
  timeoutMs?: number;
  /** Tags per request. Default 30 (the lowest plan limit; Enterprise accepts 100). */
  batchSize?: number;
}

const CACHE_TAG: SurrogateHeader = Object.freeze({ name: 'Cache-Tag', separator: ',' });

const CLOUDFLARE_KEYS = optionKeys<CloudflareBackendOptions>({
  zoneId: true,
  apiToken: true,
  email: true,
  apiKey: true,
  baseUrl: true,
  timeoutMs: true,
  batchSize: true,
});

/**
 * Cloudflare: responses carry their tenant-qualified tags in `Cache-Tag`; an invalidation purges them
 * with `POST /client/v4/zones/{zoneId}/purge_cache` and `{"tags": [...]}`. Cloudflare has no soft purge.
 *
 * @example
 * http: { backends: { cloudflare: cloudflareBackend({ zoneId: process.env.CF_ZONE!, apiToken: process.env.CF_TOKEN! }) } }
 */
export function cloudflareBackend(options: CloudflareBackendOptions): ResponseCacheBackend {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('cloudflareBackend', 'needs options', 'Write cloudflareBackend({ zoneId, apiToken }).');
  assertKnownOptions(options, CLOUDFLARE_KEYS, 'cloudflareBackend');
  requireText(options.zoneId, 'cloudflareBackend.zoneId', 'Give the id of your Cloudflare zone.');
  if (options.apiToken === undefined && (options.email === undefined || options.apiKey === undefined)) {
    throw new InvalidOptionsError('cloudflareBackend.apiToken', 'is missing', 'Give an API token with Cache Purge permission (or email + apiKey).');
  }
  if (options.apiToken !== undefined) requireText(options.apiToken, 'cloudflareBackend.apiToken', 'Give an API token with Cache Purge permission.');
  else {
    requireText(options.email, 'cloudflareBackend.email', 'Give the account email with apiKey.');
    requireText(options.apiKey, 'cloudflareBackend.apiKey', 'Give the global API key with email.');
  }
  const base = baseUrlOf(options.baseUrl, 'https://api.cloudflare.com', 'cloudflareBackend.baseUrl');
  const timeoutMs = options.timeoutMs ?? 5000;
  const batchSize = options.batchSize ?? 30;
  for (const [name, v] of [
    ['timeoutMs', timeoutMs],
    ['batchSize', batchSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InvalidOptionsError(`cloudflareBackend.${name}`, `is ${String(v)}`, 'Give a positive integer.');
  }
  const url = `${base}/client/v4/zones/${encodeURIComponent(options.zoneId)}/purge_cache`;
  return {
    kind: 'cloudflare',
    surrogateHeaders: [CACHE_TAG],
    async purge(request: PurgeRequest): Promise<void> {
      if (request.keys.length === 0) return;
      const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
      if (options.apiToken !== undefined) headers.Authorization = `Bearer ${await readCredential(options.apiToken)}`;
      else {
        headers['X-Auth-Email'] = options.email!;
        headers['X-Auth-Key'] = await readCredential(options.apiKey!);
      }
      for (const tags of batches(request.keys, batchSize)) {
        const answer = await postPurge('cloudflare', url, headers, JSON.stringify({ tags }), tags, request.tenant, timeoutMs);
        if (typeof answer === 'object' && answer !== null && (answer as { success?: unknown }).success === false) {
          const errors = JSON.stringify((answer as { errors?: unknown }).errors ?? []).slice(0, 200);
          throw new CdnPurgeFailedError('cloudflare', tags, `the API answered success: false ${errors}`, { tenant: request.tenant });
        }
      }
    },
  };
}
