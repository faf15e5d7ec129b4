/**
 * A raw counter: the decimal integer that `incr`/`decr` keep as it is (no header), so that the store can
 * change it atomically. Its first byte is a digit or '-', never the first byte of a record.
 */
const COUNTER = /^-?\d{1,20}$/;

/** The counter's value, or `undefined` when the bytes are not one. */
export function readCounter(bytes: Buffer): number | undefined {
  if (bytes.length > 21) return undefined;
  const text = bytes.toString('latin1');
  return COUNTER.test(text) ? Number(text) : undefined;
}
