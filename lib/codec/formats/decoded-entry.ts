import type { TagStamp } from '../tag-stamp.js';

/** A decoded entry: the value and when it was written. */
export interface DecodedEntry<T = unknown> {
  value: T;
  createdAt: number;
  /** The entry's plain tags and their versions when it was written (see `tag-stamp.ts`); none when untagged. */
  tags?: readonly TagStamp[];
  /** When the entry was expired early (`expire(key)`), ms since epoch; none when it was not. */
  expiredAt?: number;
}

/** Result of decoding bytes that may be corrupt, of an old format, or a raw counter. */
export type DecodeResult<T = unknown> = { ok: true; entry: DecodedEntry<T> } | { ok: false; reason: string };
