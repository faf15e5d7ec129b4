import { CdnPurgeFailedError } from '../../errors/cdn-purge-failed.error.js';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { Credential } from '../response-cache-backend.interface.js';

/** Splits a list into batches of at most `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Reads a credential given as a value or a function. */
export async function readCredential(credential: Credential): Promise<string> {
  return typeof credential === 'function' ? await credential() : credential;
}

/** Checks a backend option at start-up. */
export function requireText(value: unknown, option: string, fix: string): void {
  if (typeof value === 'function') return;
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidOptionsError(option, `is ${value === undefined ? 'missing' : JSON.stringify(value)}`, fix);
}

/** Checks and normalizes a base URL (no trailing slash). */
export function baseUrlOf(value: string | undefined, fallback: string, option: string): string {
  const url = value ?? fallback;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new InvalidOptionsError(option, `is ${JSON.stringify(url)}`, 'Give an http(s) URL such as "https://api.fastly.com".');
  }
  return url.replace(/\/+$/, '');
}

/** POSTs a purge; rejects with `CdnPurgeFailedError` on a network error, a timeout or a non-2xx answer. */
export async function postPurge(
  backend: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  keys: readonly string[],
  tenant: string | undefined,
  timeoutMs: number,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new CdnPurgeFailedError(backend, keys, `no answer from ${new URL(url).host} (${(error as Error).message})`, { tenant, cause: error });
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    throw new CdnPurgeFailedError(backend, keys, `HTTP ${response.status} ${text.slice(0, 200)}`, { tenant, status: response.status });
  }
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return text;
  }
}
