import { StreamableFile } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** How a body is stored: JSON text, text, bytes, a primitive, or nothing. */
export type BodyKind = 'json' | 'text' | 'bin' | 'prim' | 'empty';

/** A response as stored in the cache (structured-clone friendly: plain data only). */
export interface StoredResponse {
  /** Format version. */
  readonly v: 1;
  /** Status code. */
  readonly s: number;
  readonly k: BodyKind;
  /** JSON text, text, bytes, the primitive, or null/undefined. */
  readonly b: unknown;
  /** Stored headers, names as displayed (`Content-Type`). */
  readonly h: readonly (readonly [string, string])[];
  /** Strong ETag (quoted). */
  readonly e: string;
  /** Whether the entry belongs to one user (never advertised as shared-cacheable). */
  readonly u: boolean;
  /** Tenant-qualified surrogate keys. */
  readonly t: readonly string[];
}

/** What goes to the store: text bodies as one string (cheaper to decode on every hit), bytes as the object. */
export type PackedResponse = string | StoredResponse;
const PACKED = '\u0001';
const FIELD = '\u0002';
const PAIR = '\u0003';
const KINDS: ReadonlySet<string> = new Set(['json', 'text']);

/**
 * Packs an entry for the store: `\u0001` + `1,status,kind,etag,perUser,headers,keys` (fields split by
 * `\u0002`, header names and values by `\u0003`, keys by spaces) + `\n` + the body, for JSON and text
 * bodies. None of these control characters can occur in a header (Node refuses them), an ETag or a
 * surrogate key, and the first newline ends the fields.
 */
export function packResponse(entry: StoredResponse): PackedResponse {
  if (entry.k !== 'json' && entry.k !== 'text') return entry;
  const headers = entry.h.map(([n, v]) => `${n}${PAIR}${v}`).join(PAIR);
  return `${PACKED}1${FIELD}${entry.s}${FIELD}${entry.k}${FIELD}${entry.e}${FIELD}${entry.u ? 1 : 0}${FIELD}${headers}${FIELD}${entry.t.join(' ')}\n${entry.b as string}`;
}

/** Unpacks what the store held; `undefined` for anything that is not an entry of ours. */
export function unpackResponse(value: unknown): StoredResponse | undefined {
  if (typeof value === 'string') {
    if (value.charCodeAt(0) !== 1) return undefined;
    const end = value.indexOf('\n');
    if (end < 0) return undefined;
    const f = value.slice(1, end).split(FIELD);
    if (f.length !== 7 || f[0] !== '1' || !KINDS.has(f[2]!)) return undefined;
    const pairs = f[5] === '' ? [] : f[5]!.split(PAIR);
    const h: [string, string][] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) h.push([pairs[i]!, pairs[i + 1]!]);
    return { v: 1, s: Number(f[1]), k: f[2] as 'json' | 'text', e: f[3]!, u: f[4] === '1', h, t: f[6] === '' ? [] : f[6]!.split(' '), b: value.slice(end + 1) };
  }
  return typeof value === 'object' && value !== null && (value as { v?: unknown }).v === 1 ? (value as StoredResponse) : undefined;
}

/** A body turned into what is stored, or why it cannot be. */
export type EncodedBody = { ok: true; kind: BodyKind; body: unknown; bytes: Buffer | string } | { ok: false; reason: string };

/** Serializes a handler's result the way the platforms would send it. */
export function encodeBody(value: unknown, maxBytes: number): EncodedBody {
  if (value === undefined || value === null) return { ok: true, kind: 'empty', body: value, bytes: '' };
  if (typeof value === 'string') return sized({ ok: true, kind: 'text', body: value, bytes: value }, maxBytes);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return sized({ ok: true, kind: 'bin', body: bytes, bytes }, maxBytes);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return { ok: true, kind: 'prim', body: value, bytes: String(value) };
  if (typeof value !== 'object') return { ok: false, reason: `a ${typeof value} body cannot be stored` };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { ok: false, reason: `the body is not serializable (${(error as Error).message})` };
  }
  if (text === undefined) return { ok: false, reason: 'the body serializes to nothing' };
  return sized({ ok: true, kind: 'json', body: text, bytes: text }, maxBytes);
}

function sized(encoded: EncodedBody & { ok: true }, maxBytes: number): EncodedBody {
  const size = typeof encoded.bytes === 'string' ? (encoded.bytes.length > maxBytes / 3 ? Buffer.byteLength(encoded.bytes) : encoded.bytes.length) : encoded.bytes.length;
  return size > maxBytes ? { ok: false, reason: `the body is ${size} bytes, over http.maxBodyBytes (${maxBytes})` } : encoded;
}

/** A strong ETag of the bytes sent: `"<base64url sha256, 128 bits>"`. */
export function strongEtag(kind: BodyKind, bytes: Buffer | string): string {
  return `"${createHash('sha256').update(kind).update(bytes).digest('base64url').slice(0, 22)}"`;
}

/** What the interceptor returns for Nest to send: the same bytes on a hit as on the miss that stored them. */
export function replayBody(entry: StoredResponse): unknown {
  switch (entry.k) {
    case 'json':
    case 'text':
    case 'prim':
    case 'empty':
      return entry.b;
    case 'bin': {
      const b = entry.b as Uint8Array;
      const bytes = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      return new StreamableFile(bytes);
    }
  }
}

/** Whether an `If-None-Match` header matches an ETag (weak comparison, `*` matches anything). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  for (let tag of ifNoneMatch.split(',')) {
    tag = tag.trim();
    if (tag.startsWith('W/')) tag = tag.slice(2);
    if (tag === etag) return true;
  }
  return false;
}

/** Whether a `Cache-Control` value forbids storing. */
export function forbidsStoring(cacheControl: string): boolean {
  return /(?:^|[\s,])(?:private|no-store|no-cache)(?:$|[\s,=])/i.test(cacheControl);
}

/**
 * Reads a `StreamableFile`'s stream whole, up to `maxBytes`. Over the limit, what was read and the rest
 * of the stream come back as a new stream to send (nothing is lost, nothing is stored).
 */
export async function readStream(file: StreamableFile, maxBytes: number): Promise<{ bytes: Buffer } | { rest: StreamableFile }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = (file.getStream() as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) return { bytes: Buffer.concat(chunks) };
    const buf = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value as Uint8Array);
    chunks.push(buf);
    size += buf.length;
    if (size > maxBytes) {
      async function* replay(): AsyncGenerator<Buffer> {
        yield* chunks;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield typeof next.value === 'string' ? Buffer.from(next.value) : Buffer.from(next.value as Uint8Array);
        }
      }
      const headers = file.getHeaders();
      return {
        rest: new StreamableFile(Readable.from(replay()), {
          type: headers.type,
          disposition: typeof headers.disposition === 'string' ? headers.disposition : undefined,
          length: headers.length,
        }),
      };
    }
  }
}
