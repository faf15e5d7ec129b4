import { UNENCRYPTED } from '../codec.messages.js';
import type { DecodeResult } from './decoded-entry.js';
import { ENTRY_FORMAT, ENTRY_MAGIC, type V1Record, decodeV1, readV1Header, v1KeyOf } from './format-v1.js';
import { ENTRY_FORMAT_V2, type V2Record, readV2Header } from './format-v2.js';
import { readCounter } from './raw-counter.js';
import { TEXT_MAGIC, type TextParts, decodeTextParts, parseText } from './text-entry.js';

/**
 * What a stored record is, its header read (a format-2 body may still be sealed):
 * - `text`: a text entry (`text-entry.ts`), as bytes or as the string an in-process store kept;
 * - `v1`: a plain format-1 record (`format-v1.ts`);
 * - `v2`: a compressed, encrypted or chunked record, or a manifest (`format-v2.ts`, `chunk-manifest.ts`);
 * - `counter`: a raw counter written by `incr`/`decr` (`raw-counter.ts`);
 * - `corrupt`: none of these, or refused: `reason` says why.
 */
export type Classified = TextParts | V1Record | V2Record | { format: 'counter'; value: number } | { format: 'corrupt'; reason: string };

/** The records a plain entry is read from (no compression, no encryption): read here, with no secret. */
export type PlainRecord = Extract<Classified, { format: 'text' | 'v1' | 'counter' }>;

/** What the store that holds a record requires of it. */
export interface ClassifyOptions {
  /** `codec.encryption.required`: a record that is not encrypted is refused. */
  encryptionRequired: boolean;
}

/**
 * Says which format a stored record (its tag stamp peeled off) is. The one place that applies
 * `encryptionRequired`: where it is set, a text entry, a format-1 record or an unencrypted format-2
 * record is `corrupt` (whoever can write to the store cannot plant a plaintext value). A raw counter is
 * no entry and stays readable: the store changes it in place. Never throws.
 */
export function classify(raw: Uint8Array | string, options: ClassifyOptions): Classified {
  const record = formatOf(raw);
  return options.encryptionRequired && isPlaintext(record) ? corrupt(UNENCRYPTED) : record;
}

/** The format of a record, its header read. */
function formatOf(raw: Uint8Array | string): Classified {
  if (typeof raw === 'string') return orCorrupt(parseText(raw));
  if (raw.length === 0) return corrupt('empty entry');
  const bytes = raw instanceof Buffer ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const first = bytes[0]!;
  if (first === TEXT_MAGIC) return orCorrupt(parseText(bytes));
  if (first !== ENTRY_MAGIC) {
    const value = readCounter(bytes);
    return value === undefined ? corrupt('not an entry of this library') : { format: 'counter', value };
  }
  if (bytes[1] === ENTRY_FORMAT) return orCorrupt(readV1Header(bytes));
  if (bytes[1] === ENTRY_FORMAT_V2) return orCorrupt(readV2Header(bytes));
  return corrupt(bytes.length < 2 ? 'truncated header' : `entry format ${bytes[1]} is not readable by this version`);
}

/** Whether a classified record is plain (read by `decodePlain`, no secret needed). */
export function isPlain(record: Classified): record is PlainRecord {
  return record.format === 'text' || record.format === 'v1' || record.format === 'counter';
}

/** The value of a plain record. */
export function decodePlain<T>(record: PlainRecord): DecodeResult<T> {
  switch (record.format) {
    case 'text':
      return decodeTextParts<T>(record);
    case 'v1':
      return decodeV1<T>(record);
    case 'counter':
      return { ok: true, entry: { value: record.value as T, createdAt: Number.NaN } };
  }
}

/** The logical key embedded in a plain record, if any. */
export function plainKeyOf(record: PlainRecord): string | undefined {
  if (record.format === 'text') return record.key;
  return record.format === 'v1' ? v1KeyOf(record) : undefined;
}

/** A record anyone who can write to the store could have written (no seal to authenticate it). */
function isPlaintext(record: Classified): boolean {
  return record.format === 'text' || record.format === 'v1' || (record.format === 'v2' && !record.encrypted);
}

function orCorrupt(record: TextParts | V1Record | V2Record | string): Classified {
  return typeof record === 'string' ? corrupt(record) : record;
}

function corrupt(reason: string): Classified {
  return { format: 'corrupt', reason };
}
