import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { CompressionAlgorithm, NormalizedCompression } from './codec.options.js';

/** Algorithm ids as recorded in entries. 0 = not compressed. Never renumber: entries on disk carry them. */
export const COMPRESSION_IDS: Record<CompressionAlgorithm, number> = { gzip: 1, deflate: 2, brotli: 3, zstd: 4 };
export const NOT_COMPRESSED = 0;

/** Payloads from this size are (de)compressed on the thread pool, so big values do not block the event loop. */
export const ASYNC_COMPRESSION_BYTES = 128 * 1024;

type Sync = (input: Buffer, options: object) => Buffer;
type Async = (input: Buffer, options: object) => Promise<Buffer>;
interface Codec {
  compressSync: Sync;
  compress: Async;
  decompressSync: Sync;
  decompress: Async;
  options(level: number): object;
}

const z = zlib as unknown as Record<string, unknown>;

function make(c: string, d: string, options: (level: number) => object): Codec | undefined {
  const cs = z[`${c}Sync`] as Sync | undefined;
  const ds = z[`${d}Sync`] as Sync | undefined;
  if (typeof cs !== 'function' || typeof ds !== 'function') return undefined;
  return {
    compressSync: cs,
    decompressSync: ds,
    compress: promisify(z[c] as (i: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void) as Async,
    decompress: promisify(z[d] as (i: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void) as Async,
    options,
  };
}

const CODECS: (Codec | undefined)[] = [];
CODECS[1] = make('gzip', 'gunzip', (level) => ({ level }));
CODECS[2] = make('deflateRaw', 'inflateRaw', (level) => ({ level }));
CODECS[3] = make('brotliCompress', 'brotliDecompress', (level) => ({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level } }));
// NOTE: zstd is looked up by name: Node 20 has no zstdCompress (the options validator refuses it at start-up).
CODECS[4] = make('zstdCompress', 'zstdDecompress', (level) => ({ params: { [(zlib.constants as Record<string, number>).ZSTD_c_compressionLevel ?? 100]: level } }));

/** Compresses `input` when it is worth it; `id` is NOT_COMPRESSED when the input was kept as it is. */
export function compress(input: Buffer, c: NormalizedCompression | undefined): { id: number; bytes: Buffer } | Promise<{ id: number; bytes: Buffer }> {
  if (!c || input.length < c.threshold) return { id: NOT_COMPRESSED, bytes: input };
  const id = COMPRESSION_IDS[c.algorithm];
  const codec = CODECS[id]!;
  const keep = (out: Buffer) => (out.length < input.length ? { id, bytes: out } : { id: NOT_COMPRESSED, bytes: input });
  if (input.length >= ASYNC_COMPRESSION_BYTES) return codec.compress(input, codec.options(c.level)).then(keep);
  return keep(codec.compressSync(input, codec.options(c.level)));
}

/**
 * Inflates a payload. Output is capped at `maxBytes`, so a small entry crafted to inflate without end
 * (a compression bomb) fails instead of exhausting memory. Throws on an unknown or unavailable algorithm.
 */
export function decompressSync(id: number, input: Buffer, maxBytes: number): Buffer {
  if (id === NOT_COMPRESSED) return input;
  return codecFor(id).decompressSync(input, { maxOutputLength: maxBytes });
}

export function decompress(id: number, input: Buffer, maxBytes: number): Promise<Buffer> {
  if (id === NOT_COMPRESSED) return Promise.resolve(input);
  if (input.length < ASYNC_COMPRESSION_BYTES / 4) {
    try {
      return Promise.resolve(decompressSync(id, input, maxBytes));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  try {
    return codecFor(id).decompress(input, { maxOutputLength: maxBytes });
  } catch (error) {
    return Promise.reject(error);
  }
}

function codecFor(id: number): Codec {
  const codec = CODECS[id];
  if (!codec) throw new Error(id === COMPRESSION_IDS.zstd ? 'zstd-compressed, and this Node has no zstd' : `unknown compression ${id}`);
  return codec;
}
