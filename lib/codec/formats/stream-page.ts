import { deserialize } from 'node:v8';

/**
 * A page of a memoized iterable (one part of its manifest, before compression and sealing): each item is
 * a u32 length and its V8 bytes.
 */
export function writePage(items: readonly Buffer[]): Buffer {
  const page = Buffer.allocUnsafe(items.reduce((n, b) => n + 4 + b.length, 0));
  let at = 0;
  for (const b of items) {
    page.writeUInt32LE(b.length, at);
    b.copy(page, at + 4);
    at += 4 + b.length;
  }
  return page;
}

/** The items of a page; throws `RangeError` when it is truncated. */
export function* pageItems(page: Buffer): Generator<unknown> {
  let at = 0;
  while (at < page.length) {
    if (at + 4 > page.length) throw new RangeError('truncated page');
    const end = at + 4 + page.readUInt32LE(at);
    if (end > page.length) throw new RangeError('truncated page');
    yield deserialize(page.subarray(at + 4, end));
    at = end;
  }
}
