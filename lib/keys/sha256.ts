import { createHash } from 'node:crypto';

/** The SHA-256 of a string, as 64 lower-case hex digits (hashed tenant segments, hashed keys, key slices). */
export function sha256(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}
