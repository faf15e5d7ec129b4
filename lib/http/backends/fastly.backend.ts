import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { Credential, PurgeRequest, ResponseCacheBackend, SurrogateHeader } from '../response-cache-backend.interface.js';
import { baseUrlOf, batches, postPurge, readCredential, requireText } from './purge-http.js';
import { assertKnownOptions, optionKeys } from '../../tenant-cache.option-keys.js';

/** Options of `fastlyBackend`. */
export interface FastlyBackendOptions {
  /** The Fastly service id. */
  serviceId: string;
  /** An API token with the `purge_select` scope, sent as `Fastly-Key`. */
  apiToken: Credential;
  /**
   * Soft purge every time: mark objects stale (served while revalidating) instead of removing them.
   * Default false: only soft invalidations (`invalidateTag(tag, { soft: true })`) soft-purge.
   */
  softPurge?: boolean;
  /** API base URL. Default `https://api.fastly.com` (tests point it at a local server). */
  baseUrl?: string;
  /** Timeout of one purge request, ms. Default 5000. */
  timeoutMs?: number;
  /** Keys per request (Fastly accepts up to 256). Default 256. */
  batchSize?: number;
}

const SURROGATE_KEY: SurrogateHeader = Object.freeze({ name: 'Surrogate-Key', separator: ' ' });

const FASTLY_KEYS = optionKeys<FastlyBackendOptions>({ serviceId: true, apiToken: true, softPurge: true, baseUrl: true, timeoutMs: true, batchSize: true });

/**
 * Fastly: responses carry their tenant-qualified tags in `Surrogate-Key`; an invalidation purges them
 * with `POST /service/{serviceId}/purge` (batch surrogate-key purge, `Fastly-Soft-Purge: 1` when soft).
 *
 * @example
 * http: { backends: { fastly: fastlyBackend({ serviceId: 'SU1Z0isxPaozGVKXdv0eY', apiToken: process.env.FASTLY_TOKEN!, softPurge: true }) } }
 */
export function fastlyBackend(options: FastlyBackendOptions): ResponseCacheBackend {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('fastlyBackend', 'needs options', 'Write fastlyBackend({ serviceId, apiToken }).');
  assertKnownOptions(options, FASTLY_KEYS, 'fastlyBackend');
  requireText(options.serviceId, 'fastlyBackend.serviceId', 'Give the id of your Fastly service.');
  if (typeof options.serviceId === 'function') throw new InvalidOptionsError('fastlyBackend.serviceId', 'is a function', 'Give the id as a string.');
  requireText(options.apiToken, 'fastlyBackend.apiToken', 'Give a Fastly API token with purge_select scope (or a function returning it).');
  const base = baseUrlOf(options.baseUrl, 'https://api.fastly.com', 'fastlyBackend.baseUrl');
  const timeoutMs = positive(options.timeoutMs ?? 5000, 'fastlyBackend.timeoutMs');
  const batchSize = positive(options.batchSize ?? 256, 'fastlyBackend.batchSize');
  if (batchSize > 256) throw new InvalidOptionsError('fastlyBackend.batchSize', `is ${batchSize}`, 'Fastly purges at most 256 keys per request.');
  const url = `${base}/service/${encodeURIComponent(options.serviceId)}/purge`;
  return {
    kind: 'fastly',
    surrogateHeaders: [SURROGATE_KEY],
    async purge(request: PurgeRequest): Promise<void> {
      if (request.keys.length === 0) return;
      const headers: Record<string, string> = {
        'Fastly-Key': await readCredential(options.apiToken),
        'Content-Type': 'application/json',
        Accept: 'application/json',
      };
      if (options.softPurge || request.soft === true) headers['Fastly-Soft-Purge'] = '1';
      for (const keys of batches(request.keys, batchSize)) {
        await postPurge('fastly', url, headers, JSON.stringify({ surrogate_keys: keys }), keys, request.tenant, timeoutMs);
      }
    },
  };
}

function positive(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidOptionsError(option, `is ${String(value)}`, 'Give a positive integer.');
  return value;
}
