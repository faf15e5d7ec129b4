/**
 * The tag stamp of an entry written with plain tags: for each tag, its id (`KeyBuilder.tagId`) and the
 * version the tag had when the entry was written. A read compares them with the tags' current versions,
 * so an entry invalidated through one of its tags is a miss even when the tag's index is gone.
 *
 * On the wire the stamp goes in front of the record (any format: a text entry, format 1 or 2, a manifest),
 * all of it ASCII, so a text entry stays valid UTF-8 and a string:
 *   0x1D '1' <tag count> ':' then per tag <id length> ':' <id> <version> ';'   then the record
 * 0x1D (ASCII "group separator") is never the first byte of a record (0xC7, 0x1E) or of a raw counter.
 * Entries without plain tags carry no stamp and are read exactly as before.
 *
 * An entry expired early (`expire(key)`) carries stamp format '2', which adds when it expired (ms since
 * epoch) before the tags (its count may be 0):
 *   0x1D '2' <expiredAt> ':' <tag count> ':' ...   then the record
 * A reader older than format '2' finds a stamp of an unknown format: the entry is dropped (a miss).
 */
export const STAMP_MAGIC = 0x1d;
const STAMP_FORMAT = 0x31;
const STAMP_FORMAT_EXPIRED = 0x32;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
/** More tags than this on one entry is not a stamp this library wrote. */
const MAX_TAGS = 10_000;

/** One plain tag of an entry: its id in keys and the version it had when the entry was written. */
export interface TagStamp {
  readonly id: string;
  readonly version: number;
  /** The tag's version key, filled by the reader on first use (a stamp belongs to one entry, so to one scope). */
  versionKey?: string;
}

/** Whether a stored value starts with a tag stamp. */
export function isStamped(raw: Uint8Array | string): boolean {
  return typeof raw === 'string' ? raw.charCodeAt(0) === STAMP_MAGIC : raw[0] === STAMP_MAGIC;
}

/** The stamp's header for `tags` (ids are printable ASCII: see `KeyBuilder.tagId`), with `expiredAt` (format '2') when given. */
export function stampHeader(tags: readonly TagStamp[], expiredAt?: number): string {
  let out = expiredAt === undefined ? `\u001d1${tags.length}:` : `\u001d2${Math.max(0, Math.floor(expiredAt))}:${tags.length}:`;
  for (const t of tags) out += `${t.id.length}:${t.id}${t.version};`;
  return out;
}

/** `record` with the stamp in front, as a string when the record is one (a text entry), else as bytes. */
export function stampRecord(record: Buffer | string, header: string): Buffer | string {
  if (typeof record === 'string') return header + record;
  const out = Buffer.allocUnsafe(header.length + record.length);
  out.write(header, 0, 'latin1');
  record.copy(out, header.length);
  return out;
}

/** A stored value split into its stamp and the record after it (and when it expired early, if it did), or why it cannot be read. */
export function peelStamp<R extends Buffer | string>(raw: R): { tags: TagStamp[]; record: R; expiredAt?: number } | string {
  const format = raw.length < 4 ? 0 : codeAt(raw, 1);
  if (format !== STAMP_FORMAT && format !== STAMP_FORMAT_EXPIRED) return 'tag stamp of an unknown format';
  let expiredAt: number | undefined;
  let start = 2;
  if (format === STAMP_FORMAT_EXPIRED) {
    const at = readNumber(raw, 2, COLON);
    if (at === undefined) return 'corrupt tag stamp';
    expiredAt = at.value;
    start = at.end;
  }
  const count = readNumber(raw, start, COLON);
  if (count === undefined || count.value > MAX_TAGS) return 'corrupt tag stamp';
  const tags: TagStamp[] = [];
  let at = count.end;
  for (let i = 0; i < count.value; i++) {
    const length = readNumber(raw, at, COLON);
    if (length === undefined || length.end + length.value > raw.length) return 'corrupt tag stamp';
    const idEnd = length.end + length.value;
    const id = typeof raw === 'string' ? raw.slice(length.end, idEnd) : (raw as Buffer).toString('latin1', length.end, idEnd);
    const version = readNumber(raw, idEnd, SEMICOLON);
    if (version === undefined) return 'corrupt tag stamp';
    tags.push({ id, version: version.value });
    at = version.end;
  }
  const record = (typeof raw === 'string' ? raw.slice(at) : (raw as Buffer).subarray(at)) as R;
  if (record.length === 0 || isStamped(record)) return 'corrupt tag stamp';
  return expiredAt === undefined ? { tags, record } : { tags, record, expiredAt };
}

/**
 * `raw` (a stored entry, stamped or not) stamped as expired at `at` (format '2'), its tags and record
 * kept; an entry already expired earlier keeps that time. `undefined` when `raw` has a stamp that
 * cannot be read.
 */
export function stampExpired(raw: Buffer, at: number): Buffer | undefined {
  let tags: readonly TagStamp[] = [];
  let record = raw;
  if (isStamped(raw)) {
    const peeled = peelStamp(raw);
    if (typeof peeled === 'string') return undefined;
    tags = peeled.tags;
    record = peeled.record;
    if (peeled.expiredAt !== undefined && peeled.expiredAt <= at) return raw;
  }
  return stampRecord(record, stampHeader(tags, at)) as Buffer;
}

/** When a stored value was expired early (`expire(key)`), or `undefined` when it was not. */
export function expiredAtOf(raw: Buffer): number | undefined {
  if (!isStamped(raw) || raw[1] !== STAMP_FORMAT_EXPIRED) return undefined;
  const peeled = peelStamp(raw);
  return typeof peeled === 'string' ? undefined : peeled.expiredAt;
}

/** The record of a stored value, without its stamp (the value itself when it has none or a bad one). */
export function recordOf(raw: Buffer): Buffer {
  if (!isStamped(raw)) return raw;
  const peeled = peelStamp(raw);
  return typeof peeled === 'string' ? raw : peeled.record;
}

function codeAt(raw: Buffer | string, at: number): number {
  return typeof raw === 'string' ? raw.charCodeAt(at) : raw[at]!;
}

/** A decimal integer of at most 16 digits at `at`, ended by `end`; `end` of the result is just past it. */
function readNumber(raw: Buffer | string, at: number, stop: number): { value: number; end: number } | undefined {
  let value = 0;
  for (let p = at; p < raw.length && p - at <= 16; p++) {
    const c = codeAt(raw, p);
    if (c === stop) return p === at ? undefined : { value, end: p + 1 };
    if (c < 0x30 || c > 0x39) return undefined;
    value = value * 10 + (c - 0x30);
  }
  return undefined;
}
