/** Log texts of the codec layer. */
export const chunkCleanupFailed = (store: string, count: number, error: Error): string =>
  `Cache store "${store}" failed to remove ${count} chunk(s) (they expire with their TTL, or go with clear()): ${error.message}`;

/** Why a plain entry is unreadable where encryption is required. */
export const UNENCRYPTED = 'an unencrypted entry in a store that requires encryption';
