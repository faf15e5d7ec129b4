import { type Logger, StreamableFile } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { type StoredResponse, encodeBody, readStream, strongEtag } from './cached-response.js';
import { refusal } from './capture-policy.js';
import type { Exchange } from './exchange.js';
import * as messages from './http.messages.js';
import type { NormalizedHttpOptions } from './http.options.js';
import { getHeader, setHeader } from './platform-shims.js';
import { replayedOn } from './response-replay.js';
import { entrySurrogateKeys } from './surrogate-keys.js';

/** A load's own outcome, kept by the request that ran the handler. */
export type Outcome =
  | { readonly kind: 'stored'; readonly entry: StoredResponse }
  | { readonly kind: 'uncacheable'; readonly body: unknown }
  | { readonly kind: 'error'; readonly error: unknown };

/** What capturing a response needs besides the exchange. */
export interface CaptureSettings {
  readonly http: NormalizedHttpOptions;
  /** The module's `keyPrefix` (surrogate keys hash it). */
  readonly namespace: string;
  readonly logger: Logger;
}

/**
 * Runs the handler and turns its result into an entry (body, status, stored headers, ETag, surrogate
 * keys), or says why it cannot be stored (capture-policy.ts, body size, streams). Never throws.
 */
export async function captureResponse(x: Exchange, settings: CaptureSettings): Promise<Outcome> {
  const { plan, req, res, next, scope, perUser, tags } = x;
  const { http, logger } = settings;
  let body: unknown;
  try {
    body = await lastValueFrom(next.handle(), { defaultValue: undefined });
  } catch (error) {
    return { kind: 'error', error };
  }
  const refuse = (reason: string, log = false): Outcome => {
    if (log) logger.warn(messages.notCached(plan.where, reason));
    else logger.debug(messages.notCached(plan.where, reason));
    return { kind: 'uncacheable', body };
  };
  const refused = refusal(plan, req, res, perUser, replayedOn(res));
  if (refused !== undefined) return refuse(refused.reason, refused.loud);
  const status = res.statusCode;
  let headersSource = body;
  if (body instanceof StreamableFile || isStream(body)) {
    if (!plan.options.streams || !(body instanceof StreamableFile)) return refuse('the body is a stream (set streams: true to cache StreamableFile bodies)');
    const read = await readStream(body, http.maxBodyBytes).catch((error: Error) => error);
    if (read instanceof Error) return { kind: 'error', error: read };
    const fileHeaders = body.getHeaders();
    if ('rest' in read) {
      body = read.rest;
      return refuse(messages.streamTooLarge(http.maxBodyBytes), true);
    }
    const bytes = read.bytes;
    headersSource = bytes;
    if (fileHeaders.type !== undefined && getHeader(res, 'content-type') === undefined) setHeader(res, 'content-type', fileHeaders.type);
    if (typeof fileHeaders.disposition === 'string' && getHeader(res, 'content-disposition') === undefined)
      setHeader(res, 'content-disposition', fileHeaders.disposition);
    body = bytes;
  }
  const encoded = encodeBody(headersSource, http.maxBodyBytes);
  if (!encoded.ok) return refuse(encoded.reason, true);
  const headers: [string, string][] = [];
  for (const name of plan.storeHeaders) {
    const value = getHeader(res, name);
    if (value !== undefined) headers.push([displayName(name), value]);
  }
  if (encoded.kind === 'json' && getHeader(res, 'content-type') === undefined) headers.push(['Content-Type', 'application/json; charset=utf-8']);
  if (encoded.kind === 'bin' && getHeader(res, 'content-type') === undefined) headers.push(['Content-Type', 'application/octet-stream']);
  const surrogate = http.surrogateHeaders.length === 0 ? [] : entrySurrogateKeys(settings.namespace, scope, tags, http.surrogateKeyPrefix);
  const entry: StoredResponse = {
    v: 1,
    s: status,
    k: encoded.kind,
    b: encoded.body,
    h: headers,
    e: strongEtag(encoded.kind, encoded.bytes),
    u: perUser,
    t: surrogate,
  };
  return { kind: 'stored', entry };
}

function isStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { pipe?: unknown }).pipe === 'function';
}

/** `content-type` -> `Content-Type` (headers are case-insensitive; this is for people reading them). */
function displayName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}
